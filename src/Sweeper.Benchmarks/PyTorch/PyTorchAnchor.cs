using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training.Models;
using TorchSharp;

namespace Sweeper.Benchmarks.PyTorch;

/// <summary>An interpreter that imports torch, or why there is none.</summary>
/// <param name="Interpreter">The interpreter's path or command (null: none found).</param>
/// <param name="Reason">Why none was usable (null when found): each candidate and what it said.</param>
public sealed record PythonDiscovery(string? Interpreter, string? Reason)
{
    public bool Found => Interpreter is not null;

    /// <summary>The line to print when <see cref="Found"/> is false.</summary>
    public string Message => $"PyTorch not available ({Reason})";
}

/// <summary>The PyTorch step figures (<c>sweeper_pytorch.py step</c>): per method (float, fq_minmax, fq_learnable), per round.</summary>
public sealed record PyTorchStepFigures(
    string TorchVersion,
    int Threads,
    long Parameters,
    IReadOnlyDictionary<string, double[]> WallMilliseconds,
    IReadOnlyDictionary<string, double[]> CpuMilliseconds)
{
    /// <summary>The median over rounds of (method / float of the same round), wall time.</summary>
    public double RatioToFloat(string method) => BenchStatistics.Median(WallMilliseconds[method].Zip(WallMilliseconds[PyTorchAnchor.Float], (m, f) => m / f).ToList());

    /// <summary>The same, CPU time.</summary>
    public double CpuRatioToFloat(string method) => BenchStatistics.Median(CpuMilliseconds[method].Zip(CpuMilliseconds[PyTorchAnchor.Float], (m, f) => m / Math.Max(f, 1e-9)).ToList());
}

/// <summary>One epoch of a trial: wall seconds (training and evaluation) and the accuracies.</summary>
public sealed record TrialEpochFigures(double Seconds, double TrainSeconds, double ValAccuracy, double TestAccuracy);

/// <summary>The figures of one trial run as a whole process.</summary>
/// <param name="Seconds">Whole-process wall time (start of the process to the end of the trial).</param>
/// <param name="Parameters">The model's parameter count (null: not a built-in model).</param>
/// <param name="PeakRssMegabytes">Peak resident set size of the process.</param>
public sealed record TrialFigures(string Runner, long? Parameters, double Seconds, IReadOnlyList<TrialEpochFigures> Epochs, double PeakRssMegabytes);

/// <summary>
/// Runs the PyTorch side of the <c>--compare-pytorch</c> benchmarks: the script <c>sweeper_pytorch.py</c> (embedded in
/// this assembly, written to a temporary file) defines the same MobileNetV1/V2 as <see cref="ModelFactory"/> and prints
/// one JSON object per command, which this class parses.
/// </summary>
public static class PyTorchAnchor
{
    /// <summary>The float method's name on the PyTorch side.</summary>
    public const string Float = "float";

    /// <summary>PyTorch's fused per-channel fake-quant with a min/max scale (<c>torch.fake_quantize_per_channel_affine</c>).</summary>
    public const string FusedMinMax = "fq_minmax";

    /// <summary>PyTorch's learnable per-channel fake-quant (<c>torch._fake_quantize_learnable_per_channel_affine</c>).</summary>
    public const string FusedLearnable = "fq_learnable";

    /// <summary>PyTorch's float step with the model and input in its channels-last memory format (<c>model.to(memory_format=torch.channels_last)</c>).</summary>
    public const string FloatChannelsLast = "float_cl";

    /// <summary>The system interpreter Debian's python3-torch installs for.</summary>
    public const string SystemPython = "/usr/bin/python3";

    private const string ScriptResource = "Sweeper.Benchmarks.PyTorch.sweeper_pytorch.py";

    /// <summary>The script's text (tests, and to copy it out).</summary>
    public static string Script
    {
        get
        {
            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ScriptResource)
                ?? throw new InvalidOperationException($"resource {ScriptResource} is missing");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    /// <summary>
    /// The interpreter to use: <paramref name="explicitInterpreter"/> if given (it must import torch), else <c>python3</c>
    /// on PATH if it imports torch, else <see cref="SystemPython"/> if it does. The import may take a minute on a busy
    /// machine: <paramref name="timeout"/> (default 5 minutes) per candidate.
    /// </summary>
    public static PythonDiscovery Discover(string? explicitInterpreter = null, TimeSpan? timeout = null)
    {
        IEnumerable<string> candidates = explicitInterpreter is not null ? [explicitInterpreter] : ["python3", SystemPython];
        var reasons = new List<string>();
        foreach (var candidate in candidates)
        {
            var (ok, why) = ImportsTorch(candidate, timeout ?? TimeSpan.FromMinutes(5));
            if (ok) return new PythonDiscovery(candidate, null);
            reasons.Add($"{candidate}: {why}");
        }
        return new PythonDiscovery(null, string.Join("; ", reasons));
    }

    private static (bool Ok, string Why) ImportsTorch(string interpreter, TimeSpan timeout)
    {
        try
        {
            var r = RunProcess(interpreter, ["-c", "import torch, numpy"], timeout);
            if (r.ExitCode == 0) return (true, "");
            var last = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
            return (false, last ?? $"exit code {r.ExitCode}");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or TimeoutException)
        {
            return (false, e is TimeoutException ? e.Message : "cannot be started: " + e.Message);
        }
    }

    /// <summary>Parameters of the float model of <paramref name="model"/> at <paramref name="width"/>, on the C# side.</summary>
    public static long CountParameters(string model, double width, int inputChannels = 1, int classes = 10)
    {
        var spec = new TrainableSpec { Model = model, Width = width, Dataset = new DatasetSpec(), Quantizer = new QuantizerSpec() };
        using var generator = new torch.Generator(1);
        using var module = ModelFactory.Create(spec, inputChannels, classes, generator);
        return module.parameters().Sum(p => p.numel());
    }

    /// <summary>Parameters of the same model on the PyTorch side (<c>sweeper_pytorch.py params</c>).</summary>
    public static long CountParametersInPyTorch(string interpreter, string model, double width, int inputChannels = 1, int classes = 10)
    {
        var json = RunScript(interpreter, ["params", "--model", model, "--width", F(width), "--input-channels", F(inputChannels), "--classes", F(classes)], TimeSpan.FromMinutes(2));
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("parameters").GetInt64();
    }

    /// <summary>Times the PyTorch training step (float and the fused fake-quant variants), rounds interleaved as <see cref="Training.TrainingStepBench"/> does.</summary>
    /// <param name="methods">The PyTorch variants to time (default: float and both fused fake-quant variants).</param>
    public static PyTorchStepFigures MeasureStep(string interpreter, Training.TrainingStepBenchOptions options, IReadOnlyList<string>? methods = null)
    {
        var json = RunScript(interpreter,
        [
            "step", "--model", options.Model, "--width", F(options.Width), "--size", F(options.InputSize), "--batch", F(options.Batch),
            "--threads", F(options.Threads), "--warmup", F(options.Warmup), "--rounds", F(options.Rounds),
            "--methods", string.Join(',', methods ?? [Float, FusedMinMax, FusedLearnable, FloatChannelsLast]),
        ], TimeSpan.FromMinutes(30));
        return ParseStep(json);
    }

    /// <summary>Runs <paramref name="config"/>'s training (model, data, epochs, batch, SGD, cosine schedule) in PyTorch as one process.</summary>
    /// <exception cref="ArgumentException">A setting the PyTorch script does not reproduce (another data set, optimizer, schedule or quantizer).</exception>
    public static TrialFigures RunTrial(string interpreter, TrialConfig config, int threads = 1, bool channelsLast = false)
    {
        var t = config.Trainable;
        if (t.Dataset.Format is not null && t.Dataset.Format != DatasetFormats.Idx || !Sweeper.Training.Data.IdxDataset.KnownClasses.ContainsKey(t.Dataset.Name))
            throw new ArgumentException($"The PyTorch trial reads idx data sets (fashion_mnist, mnist, kmnist); this spec trains on '{t.Dataset.Name}'.");
        if (!ModelFactory.Names.Contains(t.Model) || t.Plugin is not null)
            throw new ArgumentException($"The PyTorch trial defines {string.Join(" and ", ModelFactory.Names)}; this spec trains '{t.Model}'.");
        if (t.Optimizer.Name != "sgd") throw new ArgumentException($"The PyTorch trial uses SGD; this spec uses '{t.Optimizer.Name}'.");
        if (t.LrSchedule != "cosine") throw new ArgumentException($"The PyTorch trial uses the cosine schedule; this spec uses '{t.LrSchedule}'.");
        if (t.Quantizer.Method != "none") throw new ArgumentException($"The PyTorch trial trains in float; this spec quantizes with '{t.Quantizer.Method}'.");
        if (t.InputSize is { } size && size != 28 || t.InputChannels is { } ch && ch != 1)
            throw new ArgumentException("The PyTorch trial feeds the images as they are (28×28, 1 channel).");
        int trainSubset = t.Dataset.TrainSubset ?? 60000;
        int validation = t.Dataset.Validation is { } v ? Sweeper.Training.Data.ValidationSplit.CountFor(v, trainSubset) : 0;
        var clock = Stopwatch.StartNew();
        var json = RunScript(interpreter,
        [
            "trial", "--data", t.Dataset.Path, "--train-subset", F(trainSubset), "--validation", F(validation),
            "--test-subset", F(t.Dataset.TestSubset ?? 10000), "--epochs", F(t.Epochs), "--batch", F(t.BatchSize),
            "--lr", F(t.Optimizer.Lr), "--momentum", F(t.Optimizer.Momentum), "--weight-decay", F(t.Optimizer.WeightDecay),
            "--model", t.Model, "--width", F(t.Width), "--seed", F(config.Seed), "--threads", F(threads),
            .. (channelsLast ? (string[])["--channels-last"] : []),
        ], TimeSpan.FromHours(2));
        double wall = clock.Elapsed.TotalSeconds;
        return ParseTrial(json, wall);
    }

    /// <summary>Parses the step command's JSON (its last non-empty line).</summary>
    /// <exception cref="FormatException">Not the JSON the script prints.</exception>
    public static PyTorchStepFigures ParseStep(string output)
    {
        try
        {
            using var doc = JsonDocument.Parse(LastLine(output));
            var root = doc.RootElement;
            var wall = ReadSeries(root.GetProperty("wall_ms"));
            var cpu = ReadSeries(root.GetProperty("cpu_ms"));
            if (!wall.ContainsKey(Float)) throw new FormatException("the step figures hold no float run");
            if (wall.Values.Any(s => s.Length != wall[Float].Length) || cpu.Keys.Order().SequenceEqual(wall.Keys.Order()) == false)
                throw new FormatException("the step figures' series differ in methods or lengths");
            return new PyTorchStepFigures(root.GetProperty("torch").GetString() ?? "?", root.GetProperty("threads").GetInt32(),
                root.GetProperty("parameters").GetInt64(), wall, cpu);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"cannot read the PyTorch step figures: {e.Message}", e);
        }
    }

    /// <summary>Parses the trial command's JSON; <paramref name="processSeconds"/> is the interpreter's whole wall time.</summary>
    /// <exception cref="FormatException">Not the JSON the script prints.</exception>
    public static TrialFigures ParseTrial(string output, double processSeconds)
    {
        try
        {
            using var doc = JsonDocument.Parse(LastLine(output));
            var root = doc.RootElement;
            var epochs = root.GetProperty("epochs").EnumerateArray().Select(e => new TrialEpochFigures(
                e.GetProperty("seconds").GetDouble(), e.GetProperty("train_seconds").GetDouble(),
                e.GetProperty("val_accuracy").GetDouble(), e.GetProperty("test_accuracy").GetDouble())).ToList();
            if (epochs.Count == 0) throw new FormatException("the trial figures hold no epoch");
            return new TrialFigures($"PyTorch {root.GetProperty("torch").GetString()}", root.GetProperty("parameters").GetInt64(),
                processSeconds, epochs, root.GetProperty("peak_rss_mb").GetDouble());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"cannot read the PyTorch trial figures: {e.Message}", e);
        }
    }

    private static Dictionary<string, double[]> ReadSeries(JsonElement e) =>
        e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray());

    /// <summary>
    /// Environment variables every PyTorch process gets (set by the program: the glibc malloc settings it runs with
    /// itself, so that both sides allocate alike; empty by default). PyTorch 1.13 with glibc's adaptive thresholds
    /// measured 737-929 ms per float step of one MobileNetV2 alone on this machine, 301-311 ms with ours (or with
    /// other models' steps interleaved): an anchor slowed by its allocator is not an anchor.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Environment { get; set; } = new Dictionary<string, string>();

    /// <summary>What <see cref="Environment"/> sets, for the bench commands to print ("" when nothing).</summary>
    public static string EnvironmentNote =>
        Environment.Count == 0 ? "" : "PyTorch runs with our malloc settings (" + string.Join(" ", Environment.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}={e.Value}")) + ")";

    private static string LastLine(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
        ?? throw new FormatException("the PyTorch script printed nothing");

    private static string RunScript(string interpreter, IReadOnlyList<string> args, TimeSpan timeout)
    {
        var dir = Directory.CreateTempSubdirectory("sweeper-pytorch-").FullName;
        try
        {
            var script = Path.Combine(dir, "sweeper_pytorch.py");
            File.WriteAllText(script, Script);
            var r = RunProcess(interpreter, [script, .. args], timeout);
            if (r.ExitCode != 0)
            {
                var last = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
                throw new InvalidOperationException($"{interpreter} sweeper_pytorch.py {args[0]} exited with {r.ExitCode}: {last}");
            }
            return r.Stdout;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int ExitCode, string Stdout, string Stderr) RunProcess(string file, IReadOnlyList<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in Environment) psi.Environment[name] = value;
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout.TotalSeconds:F0} s");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    private static string F(long value) => value.ToString(CultureInfo.InvariantCulture);
}
