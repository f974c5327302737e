using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Sweeper.Core.Spec;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Benchmarks.Orchestration;
using Sweeper.Benchmarks.Search;
using Sweeper.Core.Trials.Synthetic;
using Sweeper.Core.Model;

namespace Sweeper.Cli.Commands;

public sealed class OrchestrationBenchSettings : CommandSettings
{
    [CommandOption("--trials <N>")]
    [Description("Zero-length trials for the throughput run (default 10000).")]
    [DefaultValue(10000)]
    public int Trials { get; init; } = 10000;

    [CommandOption("--results <N>")]
    [Description("Results for the ingest run: 100 trials of N/100 epochs each (default 100000).")]
    [DefaultValue(100000)]
    public int Results { get; init; } = 100000;

    [CommandOption("--slots <N>")]
    [Description("Worker slots (default 64).")]
    [DefaultValue(64)]
    public int Slots { get; init; } = 64;

    public override ValidationResult Validate() =>
        Trials < 1 || Results < 100 || Slots < 1 ? ValidationResult.Error("--trials and --slots must be at least 1, --results at least 100") : ValidationResult.Success();
}

/// <summary>
/// <c>sweeper bench orchestration</c>: zero-length synthetic trials through the full path (coordinator → worker →
/// trial actor → result → journal) on a one-node cluster; prints trials/s, per-trial overhead and results/s.
/// </summary>
public sealed class OrchestrationBenchCommand : AsyncCommand<OrchestrationBenchSettings>
{
    /// <summary>Issue 15's targets: 10,000 zero-length trials with the journal on in at most 2 s, at least 100,000 results/s.</summary>
    private const double TrialsTargetSeconds = 2.0, ResultsTargetPerSecond = 100_000;

    /// <summary>10,000 trials with the journal on before per-trial backoff supervision and the stability monitor (figure reported with that commit).</summary>
    private const double BeforeSupervisionSeconds = 1.69;

    public override async Task<int> ExecuteAsync(CommandContext context, OrchestrationBenchSettings settings, CancellationToken cancellationToken)
    {
        var factory = new SyntheticTrainableFactory();
        var work = Path.GetTempPath();
        AnsiConsole.MarkupLine($"warm-up (not counted) ...");
        await OrchestrationBenchmark.RunAsync(500, 1, settings.Slots, journal: true, factory, work);
        var rows = new List<OrchestrationFigures>
        {
            await OrchestrationBenchmark.RunAsync(settings.Trials, 1, settings.Slots, journal: false, factory, work),
            await OrchestrationBenchmark.RunAsync(settings.Trials, 1, settings.Slots, journal: true, factory, work),
            await OrchestrationBenchmark.RunAsync(100, settings.Results / 100, settings.Slots, journal: true, factory, work),
        };
        var table = new Table().Border(TableBorder.Rounded).Title("orchestration: zero-length synthetic trials, full path, one node on 127.0.0.1");
        table.AddColumns("trials", "epochs/trial", "slots", "journal", "wall s", "trials/s", "overhead ms/trial", "results/s", "cpu ms/trial", "alloc KB/trial", "gc pause ms", "jit methods");
        foreach (var f in rows)
            table.AddRow(f.Trials.ToString(CultureInfo.InvariantCulture), f.EpochsPerTrial.ToString(CultureInfo.InvariantCulture), f.Slots.ToString(CultureInfo.InvariantCulture),
                f.Journal ? "on" : "off", f.Elapsed.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture), f.TrialsPerSecond.ToString("F0", CultureInfo.InvariantCulture),
                f.PerTrialOverheadMs.ToString("F2", CultureInfo.InvariantCulture), f.ResultsPerSecond.ToString("F0", CultureInfo.InvariantCulture),
                f.CpuMsPerTrial.ToString("F2", CultureInfo.InvariantCulture), f.AllocatedKbPerTrial.ToString("F1", CultureInfo.InvariantCulture),
                f.GcPause.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture), f.JitCompiled.ToString(CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        var journaled = rows[1];
        var ingest = rows[2];
        var targets = new Table().Border(TableBorder.Rounded).Title("against the targets (issue 15)");
        targets.AddColumns("measure", "measured", "target", "before per-trial supervision and the monitor", "met");
        targets.AddRow($"{journaled.Trials} zero-length trials, journal on", $"{journaled.Elapsed.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)} s",
            $"≤ {TrialsTargetSeconds * journaled.Trials / 10000:F2} s", $"{BeforeSupervisionSeconds * journaled.Trials / 10000:F2} s",
            journaled.Elapsed.TotalSeconds <= TrialsTargetSeconds * journaled.Trials / 10000 ? "yes" : "no");
        targets.AddRow("results ingested, journal on", $"{ingest.ResultsPerSecond.ToString("N0", CultureInfo.InvariantCulture)}/s",
            $"≥ {ResultsTargetPerSecond.ToString("N0", CultureInfo.InvariantCulture)}/s", "—", ingest.ResultsPerSecond >= ResultsTargetPerSecond ? "yes" : "no");
        AnsiConsole.Write(targets);
        AnsiConsole.MarkupLine("[grey]Wall times depend on what else the machine runs; cpu ms/trial counts every thread of this process.[/]");
        return Errors.Ok;
    }
}

public sealed class SearchBenchSettings : CommandSettings
{
    [CommandOption("--trials <N>")]
    [DefaultValue(50)]
    public int Trials { get; init; } = 50;

    [CommandOption("--seeds <N>")]
    [DefaultValue(20)]
    public int Seeds { get; init; } = 20;
}

/// <summary><c>sweeper bench search</c>: TPE against random search on synthetic objectives (median best over seeds).</summary>
public sealed class SearchBenchCommand : Command<SearchBenchSettings>
{
    public override int Execute(CommandContext context, SearchBenchSettings settings, CancellationToken cancellationToken)
    {
        var result = SearcherBenchmark.Run(settings.Trials, settings.Seeds);
        Console.Out.WriteLine(result.ToMarkdown());
        return Errors.Ok;
    }
}

public sealed class TelemetryBenchSettings : CommandSettings
{
    [CommandArgument(0, "[spec]")]
    [Description("The sweep to time (default configs/quickstart.yaml).")]
    public string Spec { get; init; } = "configs/quickstart.yaml";

    [CommandOption("--rounds <N>")]
    [Description("Pairs of runs, telemetry off then on (default 1).")]
    [DefaultValue(1)]
    public int Rounds { get; init; } = 1;
}

/// <summary>
/// <c>sweeper bench telemetry [spec]</c>: runs the same sweep with telemetry off and on (spans to an OTLP-JSON file,
/// as a run without an endpoint does) and prints both wall times and the overhead.
/// </summary>
public sealed class TelemetryBenchCommand : AsyncCommand<TelemetryBenchSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TelemetryBenchSettings settings, CancellationToken cancellationToken)
    {
        Core.Spec.SweepSpec spec;
        try { spec = Core.Spec.SpecLoader.LoadFile(settings.Spec, Running.SpecChecks.Options); }
        catch (Core.Spec.SpecException ex) { return Errors.Report(ex); }
        var off = new List<double>();
        var on = new List<double>();
        for (int round = 0; round < settings.Rounds; round++)
        {
            off.Add(await TimeAsync(spec, telemetry: false, cancellationToken));
            on.Add(await TimeAsync(spec, telemetry: true, cancellationToken));
            AnsiConsole.MarkupLine($"round {round + 1}: off {off[^1]:F1} s, on {on[^1]:F1} s");
        }
        double offMean = off.Average(), onMean = on.Average();
        AnsiConsole.MarkupLine($"{Markup.Escape(spec.Name)}: telemetry off {offMean:F1} s, on {onMean:F1} s, overhead {(onMean / offMean - 1) * 100:+0.0;-0.0}% (target ≤ 2%)");
        return Errors.Ok;
    }

    private static async Task<double> TimeAsync(Core.Spec.SweepSpec spec, bool telemetry, CancellationToken cancel)
    {
        var runDir = Directory.CreateTempSubdirectory("sweeper-bench-telemetry-").FullName;
        try
        {
            using var session = telemetry
                ? Telemetry.TelemetrySession.Start(new Telemetry.TelemetryTarget(null, "grpc", Path.Combine(runDir, "traces.jsonl")), "coordinator")
                : null;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await Running.SweepHost.RunAsync(spec, new Core.Trials.SpecTrialSource(spec),
                new Cluster.Actors.CoordinatorOptions(runDir, Path.Combine(runDir, "checkpoints")), Running.TrainableFactories.Default,
                new Running.NodeOptions(), _ => { }, null, cancel);
            return clock.Elapsed.TotalSeconds;
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }
}

/// <summary>The rounds of a bench that times training steps interleaved with float's (<c>bench quantizers</c>, <c>bench stability</c>).</summary>
public class StepRoundsSettings : CommandSettings
{
    [CommandOption("--rounds <N>")]
    [Description("Interleaved rounds per method (default 21).")]
    [DefaultValue(21)]
    public int Rounds { get; init; } = 21;

    public override ValidationResult Validate() =>
        Rounds is < 1 or > 1000 ? ValidationResult.Error("--rounds must be from 1 to 1000") : ValidationResult.Success();
}

public sealed class QuantizerBenchSettings : StepRoundsSettings
{
    [CommandOption("--second-moments")]
    [Description("Weight the MSQE by the gradients' second moments (msqe_po2, learnable_po2), as the spec's default does; off by default so that the figures compare with those measured before that default.")]
    public bool SecondMoments { get; init; }

    [CommandOption("--compare-pytorch")]
    [Description("Also time the same architecture in PyTorch (float step, fused per-channel fake-quant min/max and learnable), through python3 if it imports torch.")]
    public bool ComparePyTorch { get; init; }

    [CommandOption("--python <PATH>")]
    [Description("The interpreter for --compare-pytorch (it must import torch and numpy).")]
    public string? Python { get; init; }

    [CommandOption("--methods <LIST>")]
    [Description("The quantizer methods to time, comma-separated (default: legacy_auto_po2,msqe_po2,learnable_po2,lsq); float (none) is always timed, as every ratio's reference. Fewer methods, shorter rounds.")]
    public string? Methods { get; init; }

    /// <summary>The methods to time (float included by the bench itself), from <see cref="Methods"/>; all of them by default.</summary>
    public IReadOnlyList<string> MethodList => Methods is null ? QuantizerNames.Methods : ParseMethods(Methods).Methods;

    public override ValidationResult Validate()
    {
        if (base.Validate() is { Successful: false } rounds) return rounds;
        if (Methods is not null && ParseMethods(Methods).Error is { } error) return ValidationResult.Error(error);
        return ValidationResult.Success();
    }

    private static (IReadOnlyList<string> Methods, string? Error) ParseMethods(string list)
    {
        var quantized = QuantizerNames.Methods.Where(m => m != QuantizerMethod.None.Word()).ToList();
        string expected = $"expected a comma-separated list of {string.Join(", ", quantized)}";
        var words = list.Split(',', StringSplitOptions.TrimEntries);
        var methods = new List<string>();
        foreach (var word in words)
        {
            if (word.Length == 0) return ([], $"--methods '{list}': an empty name ({expected})");
            if (word == QuantizerMethod.None.Word()) continue; // the reference, timed anyway
            if (!quantized.Contains(word)) return ([], $"--methods: '{word}' is not a quantizer method ({expected})");
            if (!methods.Contains(word)) methods.Add(word);
        }
        return methods.Count == 0 ? ([], $"--methods '{list}' names no quantizer method ({expected})") : (methods, null);
    }
}

/// <summary>
/// <c>sweeper bench quantizers</c>: the training step of MobileNetV2 (width 0.5, 28×28, batch 128, one thread) per
/// quantizer method, against float in the same run.
/// </summary>
public sealed class QuantizerBenchCommand : Command<QuantizerBenchSettings>
{
    public override int Execute(CommandContext context, QuantizerBenchSettings settings, CancellationToken cancellationToken)
    {
        var options = new Benchmarks.Training.TrainingStepBenchOptions
        {
            Rounds = settings.Rounds,
            Methods = settings.MethodList,
            Quantizer = new QuantizerSpec { Bits = 4, PerChannel = true, SecondMoments = settings.SecondMoments },
        };
        var rows = Benchmarks.Training.TrainingStepBench.Measure(options);
        var table = new Table().Border(TableBorder.Rounded).Title("training step, MobileNetV2 width 0.5, 28×28, batch 128, 4 bits per channel, 1 thread" +
            (settings.SecondMoments ? ", second moments on" : ", second moments off"));
        table.AddColumns("method", "median ms/step", "× float", "95 % interval", "middle half of the rounds", "× float, CPU time", "target");
        foreach (var r in rows)
        {
            double? target = QuantizerNames.TryParseMethod(r.Method, out var m)
                ? m switch { QuantizerMethod.LearnablePo2 or QuantizerMethod.Lsq => 1.02, QuantizerMethod.MsqePo2 or QuantizerMethod.LegacyAutoPo2 => 1.05, _ => null }
                : null;
            bool isFloat = r.Method == QuantizerMethod.None.Word();
            table.AddRow(r.Method, r.MedianMilliseconds.ToString("F1", CultureInfo.InvariantCulture), r.RatioToFloat.ToString("F3", CultureInfo.InvariantCulture),
                isFloat ? "" : double.IsInfinity(r.RatioInterval.Upper) ? "too few rounds" : string.Create(CultureInfo.InvariantCulture, $"{r.RatioInterval.Lower:F3}–{r.RatioInterval.Upper:F3}"),
                string.Create(CultureInfo.InvariantCulture, $"{r.RatioQuartiles.Lower:F3}–{r.RatioQuartiles.Upper:F3}"),
                r.CpuRatioToFloat.ToString("F3", CultureInfo.InvariantCulture),
                target is { } t ? string.Create(CultureInfo.InvariantCulture, $"≤ {t:F2}: {Benchmarks.BenchStatistics.AtMost(r.RatioInterval, t)}") : "");
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]× float: wall-clock time, the targets' measure, the median of the rounds' ratios; 95 % interval: where that median lies " +
                               "(order statistics, no assumption on the noise), and the target is met or not only when the whole interval says so (--rounds narrows it); " +
                               "CPU time (the process's, all threads) leaves out the time other processes took the cores.[/]");
        var floatStep = rows.Single(r => r.Method == QuantizerMethod.None.Word()).MedianMilliseconds;
        var passes = Benchmarks.Training.QuantizerPassBench.Measure(options);
        var alone = new Table().Border(TableBorder.Rounded).Title("the quantizers alone: every quantized layer's weight fake-quant, no convolution (medians of the rounds)");
        alone.AddColumns("method", "layers", "forward ms", "backward ms", "share of the float step");
        foreach (var p in passes)
            alone.AddRow(p.Method, p.Layers.ToString(CultureInfo.InvariantCulture), p.ForwardMilliseconds.ToString("F2", CultureInfo.InvariantCulture),
                p.BackwardMilliseconds.ToString("F2", CultureInfo.InvariantCulture), (p.TotalMilliseconds / floatStep).ToString("P1", CultureInfo.InvariantCulture));
        AnsiConsole.Write(alone);
        if (settings.ComparePyTorch) PyTorchStepComparison.Print(rows, options, settings.Python);
        return Errors.Ok;
    }
}

/// <summary>Options of <c>sweeper bench stability</c>: its rounds only (its step is msqe_po2's: the quantizer options of <c>bench quantizers</c> have no say in it).</summary>
public sealed class StabilityBenchSettings : StepRoundsSettings;

/// <summary><c>sweeper bench stability</c>: the stability monitor's cost per training step against the step itself.</summary>
public sealed class StabilityBenchCommand : Command<StabilityBenchSettings>
{
    public override int Execute(CommandContext context, StabilityBenchSettings settings, CancellationToken cancellationToken)
    {
        var step = Benchmarks.Training.TrainingStepBench.Measure(new Benchmarks.Training.TrainingStepBenchOptions { Methods = [QuantizerMethod.MsqePo2.Word()], Rounds = settings.Rounds })
            .Single(r => r.Method == QuantizerMethod.MsqePo2.Word());
        // MobileNetV2 width 0.5 has about 50 quantized layers of up to 640 channels; the monitor is fed all of them.
        var monitor = Benchmarks.Stability.StabilityBenchmark.Run(layers: 52, channels: 64, steps: 10_000);
        double ratio = monitor.MicrosecondsPerStep / (step.MedianMilliseconds * 1000);
        AnsiConsole.MarkupLine($"stability monitor: {monitor.MicrosecondsPerStep:F1} µs/step ({monitor.Layers} layers × {monitor.Channels} channels, {monitor.AllocatedBytes} bytes allocated); " +
                               $"training step (msqe_po2, MobileNetV2 w0.5, batch 128): {step.MedianMilliseconds:F1} ms; monitor/step = {ratio:P3} (target ≤ 1%)");
        return Errors.Ok;
    }
}
