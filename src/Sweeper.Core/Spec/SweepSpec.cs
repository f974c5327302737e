using Sweeper.Core.Model;

namespace Sweeper.Core.Spec;

/// <summary>A validated sweep spec: what to train, what to vary, how to judge and where to write.</summary>
public sealed record SweepSpec
{
    public required string Name { get; init; }
    public long Seed { get; init; }
    public required ObjectiveSpec Objective { get; init; }
    public required TrainableSpec Trainable { get; init; }
    public IReadOnlyList<ParameterSpec> Parameters { get; init; } = [];
    /// <summary>
    /// Named bundles of trainable settings (<c>variants:</c>), searched as one more parameter, <c>variant</c>, whose values
    /// are their names (like Ray Tune's grid over dicts): e.g. methods × fixes, where not every combination exists.
    /// </summary>
    public IReadOnlyList<VariantSpec> Variants { get; init; } = [];
    public ResourcesSpec Resources { get; init; } = new();
    public OutputSpec Output { get; init; } = new();
    public CheckpointSpec Checkpoint { get; init; } = new();
    public SearchSpec Search { get; init; } = new();
    public SchedulerSpec Scheduler { get; init; } = new();
    public StopSpec Stop { get; init; } = new();
    public TelemetrySpec Telemetry { get; init; } = new();
    public CrashSpec Crashes { get; init; } = new();
    /// <summary>Instability supervision: the monitor's thresholds and, per verdict, what to do.</summary>
    public Stability.StabilitySection Stability { get; init; } = new();
    /// <summary>The file the spec was read from (absolute path), or a label for in-memory text.</summary>
    public string SourcePath { get; init; } = "<memory>";
    /// <summary>The spec's text as read, kept with the results so a run directory documents itself.</summary>
    public string SourceText { get; init; } = "";
    /// <summary>What is allowed but probably not meant (e.g. selecting on a test metric), located like errors.</summary>
    public IReadOnlyList<SpecError> Warnings { get; init; } = [];
}

/// <summary>The trainable's settings for one trial (after the trial's parameters are applied).</summary>
public sealed record TrainableSpec
{
    /// <summary>
    /// Model name: a built-in (<c>mobilenet_v1</c>, <c>mobilenet_v2</c>, <c>synthetic</c>), the type name of a plug-in
    /// (<see cref="Plugin"/>), or <see cref="CommandModel"/> for a program trainable (<see cref="Command"/>).
    /// </summary>
    public string Model { get; init; } = "mobilenet_v1";
    /// <summary>The <see cref="Model"/> of a program trainable.</summary>
    public const string CommandModel = "command";
    /// <summary>A model plug-in (<c>trainable.model: {assembly, type}</c>): null for the built-ins.</summary>
    public ModelPluginSpec? Plugin { get; init; }
    /// <summary>A program run as the trial (<c>trainable.command</c>): null for TorchSharp and synthetic trainables.</summary>
    public CommandSpec? Command { get; init; }
    /// <summary>Free-form settings for a plug-in or a program (<c>trainable.args</c>), sweepable as <c>trainable.args.KEY</c>.</summary>
    public TrainableArgs Args { get; init; } = TrainableArgs.Empty;
    /// <summary>Width multiplier of the network (channels × width).</summary>
    public double Width { get; init; } = 0.25;
    public required DatasetSpec Dataset { get; init; }
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 64;
    public OptimizerSpec Optimizer { get; init; } = new();
    /// <summary><c>cosine</c> (per-step cosine decay to zero over all epochs) or <c>constant</c>.</summary>
    public string LrSchedule { get; init; } = "cosine";
    /// <summary>Settings of the <c>synthetic</c> model (a learning-curve simulator).</summary>
    public SyntheticSpec Synthetic { get; init; } = new();
    /// <summary>
    /// Input side length the model sees (null: the images' own, e.g. 28 for Fashion-MNIST, 32 for CIFAR): a larger side
    /// zero-pads the image evenly on every side, a smaller one crops its centre.
    /// </summary>
    public int? InputSize { get; init; }
    /// <summary>
    /// Input channels the model sees (null: the images' own): 3 from grey images repeats the grey channel, 1 from colour
    /// images takes their luminance.
    /// </summary>
    public int? InputChannels { get; init; }
    /// <summary>How the weights of every Conv2d and Linear are quantized.</summary>
    public QuantizerSpec Quantizer { get; init; } = new();
}

/// <summary>
/// Weight quantization (Bae, Zielinski, Chatterjee 2022): the method and its options. Method and option names are
/// those of <c>shared/golden/README.md</c>.
/// </summary>
public sealed record QuantizerSpec
{
    /// <summary><c>none</c>, <c>legacy_auto_po2</c>, <c>msqe_po2</c>, <c>learnable_po2</c> or <c>lsq</c>.</summary>
    public string Method { get; init; } = QuantizerMethod.None.Word();
    /// <summary>Weight bits (2..8), signed symmetric levels ±(2^(b−1)−1).</summary>
    public int Bits { get; init; } = 4;
    /// <summary>One scale per output channel (true) or one per tensor.</summary>
    public bool PerChannel { get; init; } = true;
    /// <summary>Quantize the first convolution and the classifier too.</summary>
    public bool QuantizeFirstLast { get; init; }
    /// <summary>
    /// How batch norm is folded into the convolution before quantizing (<see cref="BnFoldRecipe"/>): <c>none</c>,
    /// <c>qkeras</c> (QKeras <c>QConv2DBatchnorm</c>, EMA-statistics folding) or <c>pytorch</c> (PyTorch's QAT
    /// <c>ConvBn2d</c>). The spec's <c>true</c> and <c>false</c> arrive here as <c>qkeras</c> and <c>none</c>.
    /// </summary>
    public string BnFold { get; init; } = BnFoldRecipe.None;
    /// <summary>
    /// With <see cref="PerChannel"/>: one scale per channel of a depthwise convolution (true), or one for the whole
    /// depthwise layer (false, what QKeras's default scale axis gives a <c>DepthwiseConv2D</c> kernel).
    /// </summary>
    public bool DepthwisePerChannel { get; init; } = true;
    /// <summary>msqe_po2: least-squares refits per step.</summary>
    public int LlsIters { get; init; } = 3;
    /// <summary>msqe_po2: line search over neighbouring exponents.</summary>
    public bool LineSearch { get; init; } = true;
    /// <summary>msqe_po2: offsets tried by the line search.</summary>
    public int LineSearchRange { get; init; } = 6;
    /// <summary>msqe_po2 and learnable_po2 (msqe_round): mask outliers out of the MSQE.</summary>
    public bool OutlierMask { get; init; } = true;
    /// <summary>msqe_po2: the outlier threshold in standard deviations.</summary>
    public double OutlierSigma { get; init; } = 2.0;
    /// <summary>msqe_po2 and learnable_po2: weight the MSQE by an EMA of squared gradients (on by default, as in the authors' code).</summary>
    public bool SecondMoments { get; init; } = true;
    /// <summary>msqe_po2: freeze the rounded moving average of the exponent once epoch <see cref="StableFromEpoch"/> has been trained.</summary>
    public bool StableScale { get; init; }
    /// <summary>msqe_po2 with stable_scale: freeze after this epoch has been trained (null: 1).</summary>
    public int? StableFromEpoch { get; init; }
    /// <summary>learnable_po2: exponent rounding, <c>ceil</c>, <c>rint</c> or <c>msqe_round</c>.</summary>
    public string Rounding { get; init; } = "msqe_round";
    /// <summary>learnable_po2: lower clamp of the data-driven initial scale.</summary>
    public double MinInitScale { get; init; } = 1e-5;
}

/// <summary>The values of <see cref="QuantizerSpec.BnFold"/>, and the spec's spellings of them.</summary>
public static class BnFoldRecipe
{
    /// <summary>No folding: <c>act(BN(conv(x, Q(W))))</c>.</summary>
    public const string None = "none";
    /// <summary>QKeras <c>QConv2DBatchnorm</c> (ema_stats_folding; momentum 0.99, ε 1e-3), the authors' recipe.</summary>
    public const string QKeras = "qkeras";
    /// <summary>PyTorch's QAT <c>ConvBn2d</c> (running statistics before the step's update; momentum 0.1, ε 1e-5).</summary>
    public const string PyTorch = "pytorch";

    /// <summary>The recipes a <see cref="QuantizerSpec"/> holds.</summary>
    public static IReadOnlyList<string> Recipes { get; } = [None, QKeras, PyTorch];

    /// <summary>What <c>trainable.quantizer.bn_fold</c> accepts: the recipes, <c>true</c> (= qkeras) and <c>false</c> (= none).</summary>
    public static IReadOnlyList<string> SpecValues { get; } = [QKeras, PyTorch, "true", "false", None];

    /// <summary>The recipe a spec value names: <c>true</c> → qkeras, <c>false</c> → none, a recipe → itself.</summary>
    public static string Normalize(string value) => value switch
    {
        "true" => QKeras,
        "false" => None,
        _ => value,
    };
}

public sealed record SyntheticSpec
{
    /// <summary>Simulated seconds per epoch (0: instantaneous).</summary>
    public double EpochSeconds { get; init; }
    /// <summary>Standard deviation of the noise on test accuracy.</summary>
    public double NoiseStd { get; init; } = 0.005;
}

public sealed record DatasetSpec
{
    /// <summary>
    /// A known set (<c>fashion_mnist</c>, <c>mnist</c>, <c>kmnist</c>, <c>cifar10</c>, <c>cifar100</c>) or, with
    /// <see cref="Format"/> given, any name the user likes (shown in reports).
    /// </summary>
    public string Name { get; init; } = "fashion_mnist";
    /// <summary>
    /// How the files are laid out (<see cref="DatasetFormats"/>): <c>idx</c>, <c>cifar</c> or <c>npy</c>; null: the
    /// format of the known set <see cref="Name"/> names.
    /// </summary>
    public string? Format { get; init; }
    /// <summary>Folder holding the data set's files (absolute once loaded).</summary>
    public string Path { get; init; } = "/usr/share/datasets/fashion-mnist";
    /// <summary>Use only the first N training images (null: all).</summary>
    public int? TrainSubset { get; init; }
    /// <summary>Use only the first N test images (null: all).</summary>
    public int? TestSubset { get; init; }
    /// <summary>
    /// Images held out of the training images to select and prune trials on: a count (≥ 1) or a fraction in (0, 1); null:
    /// none (then only test metrics exist).
    /// </summary>
    public double? Validation { get; init; }
    /// <summary>The seed that chooses the validation images: the sweep's <see cref="SweepSpec.Seed"/>, set by the loader (not a key).</summary>
    public long SplitSeed { get; init; }
}

/// <summary>The file layouts a data set may have, and the format of each known set.</summary>
public static class DatasetFormats
{
    /// <summary>LeCun's idx files: <c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>, <c>t10k-…</c>, raw or <c>.gz</c>.</summary>
    public const string Idx = "idx";
    /// <summary>CIFAR binary batches: <c>data_batch_1..5.bin</c> + <c>test_batch.bin</c> (10 classes), or <c>train.bin</c> + <c>test.bin</c> (100 fine classes).</summary>
    public const string Cifar = "cifar";
    /// <summary>NumPy arrays: <c>x_train.npy</c>, <c>y_train.npy</c>, <c>x_test.npy</c>, <c>y_test.npy</c> (images N×H×W, N×H×W×C or N×C×H×W; integer labels).</summary>
    public const string Npy = "npy";

    public static IReadOnlyList<string> All { get; } = [Idx, Cifar, Npy];

    /// <summary>The known sets and their formats.</summary>
    public static IReadOnlyDictionary<string, string> Known { get; } = new Dictionary<string, string>
    {
        ["fashion_mnist"] = Idx, ["mnist"] = Idx, ["kmnist"] = Idx, ["cifar10"] = Cifar, ["cifar100"] = Cifar,
    };

    /// <summary>The format of <paramref name="spec"/>: its own, or its known set's (null: neither).</summary>
    public static string? Of(DatasetSpec spec) => spec.Format ?? Known.GetValueOrDefault(spec.Name);
}

/// <summary>A model plug-in: a type in a .NET assembly (<c>trainable.model: {assembly, type}</c>).</summary>
/// <param name="Assembly">The assembly's file (absolute once loaded; relative paths in the spec are relative to the spec's folder).</param>
/// <param name="Type">The full name of the type (an <c>ISweeperModel</c> or an <c>ITrainable</c>).</param>
public sealed record ModelPluginSpec(string Assembly, string Type);

/// <summary>A program run as the trial (<c>trainable.command</c>).</summary>
public sealed record CommandSpec
{
    /// <summary>
    /// The program and its arguments. <c>${key}</c> in an argument is replaced by the trial's value of a trainable key
    /// (<c>${trainable.optimizer.lr}</c>, <c>${trainable.args.depth}</c>) or of <c>${trial.id}</c>, <c>${trial.seed}</c>.
    /// </summary>
    public required IReadOnlyList<string> Argv { get; init; }
    /// <summary>The program's working directory (absolute once loaded; default: the spec's folder).</summary>
    public required string WorkingDirectory { get; init; }
    /// <summary>After SIGTERM to a stopped program's process group, how long before SIGKILL.</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(10);

    public bool Equals(CommandSpec? other) => other is not null && Argv.SequenceEqual(other.Argv)
        && WorkingDirectory == other.WorkingDirectory && KillGrace == other.KillGrace;

    public override int GetHashCode() => HashCode.Combine(Argv.Count, WorkingDirectory, KillGrace);
}

/// <summary>
/// Free-form settings (<c>trainable.args</c>) of a plug-in or a program: dotted keys (nested mappings flattened) to a
/// string, bool, long or double, in the spec's order.
/// </summary>
public sealed record TrainableArgs(IReadOnlyList<KeyValuePair<string, object>> Entries)
{
    public static TrainableArgs Empty { get; } = new([]);

    public bool TryGet(string key, out object? value)
    {
        foreach (var (k, v) in Entries)
            if (k == key) { value = v; return true; }
        value = null;
        return false;
    }

    /// <summary>The value of <paramref name="key"/> as an integer (a whole double counts), or <paramref name="fallback"/> when absent.</summary>
    /// <exception cref="ArgumentException">The value is not an integer.</exception>
    public long GetInt64(string key, long fallback) => !TryGet(key, out var v) ? fallback : v switch
    {
        long l => l,
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e15 => (long)d,
        _ => throw Wrong(key, v, "an integer"),
    };

    public int GetInt32(string key, int fallback) => checked((int)GetInt64(key, fallback));

    /// <summary>The value of <paramref name="key"/> as a number, or <paramref name="fallback"/> when absent.</summary>
    public double GetDouble(string key, double fallback) => !TryGet(key, out var v) ? fallback : v switch
    {
        long l => l,
        double d => d,
        _ => throw Wrong(key, v, "a number"),
    };

    public bool GetBoolean(string key, bool fallback) => !TryGet(key, out var v) ? fallback : v is bool b ? b : throw Wrong(key, v, "true or false");

    /// <summary>The value of <paramref name="key"/> as text (numbers and bools in their invariant spelling), or <paramref name="fallback"/>.</summary>
    public string GetString(string key, string fallback) => !TryGet(key, out var v) ? fallback : Text(v);

    /// <summary>A copy with <paramref name="key"/> set to <paramref name="value"/> (replaced in place, or added at the end).</summary>
    public TrainableArgs With(string key, object value)
    {
        var list = Entries.ToList();
        int i = list.FindIndex(e => e.Key == key);
        if (i >= 0) list[i] = new(key, value); else list.Add(new(key, value));
        return new TrainableArgs(list);
    }

    /// <summary>A value as a program argument or environment variable sees it.</summary>
    public static string Text(object? value) => value switch
    {
        null => "",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public bool Equals(TrainableArgs? other) => other is not null && Entries.Count == other.Entries.Count
        && Entries.Zip(other.Entries).All(p => p.First.Key == p.Second.Key && Equals(p.First.Value, p.Second.Value));

    public override int GetHashCode() => Entries.Count;

    private static ArgumentException Wrong(string key, object? value, string expected) =>
        new($"trainable.args.{key}: expected {expected}, found '{Text(value)}'");
}

public sealed record OptimizerSpec
{
    /// <summary><c>sgd</c> (with momentum) or <c>adam</c>.</summary>
    public string Name { get; init; } = "sgd";
    public double Lr { get; init; } = 0.05;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 0.0;
}

/// <summary>One named bundle of trainable settings (dotted keys and their values), and where it was written.</summary>
public sealed record VariantSpec(string Name, IReadOnlyList<KeyValuePair<string, object>> Settings, SourceLocation Location);

/// <summary>One swept parameter: a dotted key into the trial's settings, its domain and condition, and where it was written.</summary>
public sealed record ParameterSpec(Search.ParameterDefinition Definition, SourceLocation Location)
{
    public string Key => Definition.Key;
}

public sealed record SearchSpec
{
    /// <summary><c>grid</c>, <c>random</c> or <c>tpe</c>.</summary>
    public string Algorithm { get; init; } = "grid";
    /// <summary>Grid: passes over the grid (sampling continuous domains anew); random/TPE: configurations.</summary>
    public int? NumSamples { get; init; }
    /// <summary>Run every configuration with this many seeds.</summary>
    public int Repeat { get; init; } = 1;
}

public sealed record SchedulerSpec
{
    /// <summary><c>fifo</c>, <c>asha</c> or <c>median_stopping</c>.</summary>
    public string Name { get; init; } = "fifo";
    public int GracePeriod { get; init; } = 1;
    public int ReductionFactor { get; init; } = 4;
    /// <summary>ASHA's maximum epoch (null: the trainable's epochs).</summary>
    public int? MaxT { get; init; }
    public int MinSamplesRequired { get; init; } = 3;
}

/// <summary>What Akka supervision does when a trainable throws: restart the trial actor from its newest checkpoint, with backoff, up to a limit.</summary>
public sealed record CrashSpec
{
    public int MaxRetries { get; init; } = 2;
    /// <summary>First backoff; it doubles per crash, up to 8×.</summary>
    public double BackoffSeconds { get; init; } = 1;
}

public sealed record TelemetrySpec
{
    /// <summary>OTLP endpoint for traces and metrics (OTEL_EXPORTER_OTLP_ENDPOINT overrides it); null: spans go to traces.jsonl in the run directory.</summary>
    public string? OtlpEndpoint { get; init; }
    /// <summary><c>grpc</c> or <c>http/protobuf</c>.</summary>
    public string Protocol { get; init; } = "grpc";
}

public sealed record StopSpec
{
    /// <summary>Start no more than this many trials.</summary>
    public int? MaxTrials { get; init; }
    /// <summary>Time budget: after it, no trial starts and running ones are stopped.</summary>
    public double? MaxMinutes { get; init; }
    /// <summary>End the sweep once a completed trial's objective reaches this value.</summary>
    public double? Target { get; init; }
}

public sealed record ResourcesSpec
{
    public int MaxConcurrentTrials { get; init; } = 1;
}

public sealed record OutputSpec
{
    /// <summary>Parent folder of run directories, relative to the current directory.</summary>
    public string Dir { get; init; } = "runs";
}

public sealed record CheckpointSpec
{
    /// <summary>Save a checkpoint every N epochs (and after the last); 0 turns checkpoints off.</summary>
    public int IntervalEpochs { get; init; } = 1;
    /// <summary>Folder every worker can reach (null: <c>checkpoints/</c> in the run directory); each run checkpoints into a subfolder named after its run directory.</summary>
    public string? Dir { get; init; }
    /// <summary>Checkpoints each assignment of a trial keeps: its newest N plus its newest healthy one (0: all).</summary>
    public int Keep { get; init; } = 2;
}

/// <summary>A place in a spec file (1-based line and column).</summary>
public readonly record struct SourceLocation(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}
