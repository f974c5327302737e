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
    /// <summary>Model name: <c>mobilenet_v1</c> (more in later versions).</summary>
    public string Model { get; init; } = "mobilenet_v1";
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
    /// <summary>Input side length the model sees: 28 (Fashion-MNIST as is) or 32 (zero-padded by 2 pixels).</summary>
    public int InputSize { get; init; } = 28;
    /// <summary>Input channels: 1, or 3 (the grey image repeated), as an RGB model would take it.</summary>
    public int InputChannels { get; init; } = 1;
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
    /// <summary><c>fashion_mnist</c>.</summary>
    public string Name { get; init; } = "fashion_mnist";
    /// <summary>Folder holding the idx files (gzip or raw).</summary>
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
