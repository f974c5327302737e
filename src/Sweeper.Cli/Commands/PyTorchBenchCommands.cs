using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Benchmarks.PyTorch;
using Sweeper.Benchmarks.Training;
using Sweeper.Cli.Output;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Cli.Commands;

/// <summary>The PyTorch side of <c>sweeper bench quantizers --compare-pytorch</c>: same architecture, float step and fused fake-quant ratios.</summary>
public static class PyTorchStepComparison
{
    /// <summary>Finds the interpreter (or says why there is none) and prints the PyTorch anchor beside <paramref name="rows"/>.</summary>
    public static void Print(IReadOnlyList<TrainingStepBenchRow> rows, TrainingStepBenchOptions options, string? python)
    {
        var found = PyTorchAnchor.Discover(python);
        if (!found.Found)
        {
            AnsiConsole.MarkupLine(Markup.Escape(found.Message + "; the figures above are ours only."));
            return;
        }
        long ours = PyTorchAnchor.CountParameters(options.Model, options.Width, options.InputChannels);
        AnsiConsole.MarkupLine(Markup.Escape($"PyTorch side through {found.Interpreter} ({options.Rounds} rounds after {options.Warmup} warm-up steps, its own process after ours) ..."));
        if (PyTorchAnchor.EnvironmentNote is { Length: > 0 } note) AnsiConsole.MarkupLine(Markup.Escape(note));
        var torch = PyTorchAnchor.MeasureStep(found.Interpreter!, options);
        var ourFloat = rows.Single(r => r.Method == QuantizerMethod.None.Word());
        double pyFloat = Benchmarks.BenchStatistics.Median(torch.WallMilliseconds[PyTorchAnchor.Float]);
        double pyFloatCpu = Benchmarks.BenchStatistics.Median(torch.CpuMilliseconds[PyTorchAnchor.Float]);
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"against PyTorch {torch.TorchVersion} ({torch.Threads} thread(s)), same architecture: parameters ours {ours:N0}, PyTorch {torch.Parameters:N0}" + (ours == torch.Parameters ? "" : " — DIFFERENT"));
        table.AddColumns("method", "ours ms (cpu ms)", "ours × float (cpu)", "PyTorch anchor", "PyTorch ms (cpu ms)", "PyTorch × float (cpu)", "target");
        table.AddRow("none (float)", Ms(ourFloat.MedianMilliseconds, ourFloat.MedianCpuMilliseconds), "1", "float step", Ms(pyFloat, pyFloatCpu), "1",
            $"ours/PyTorch {ourFloat.MedianMilliseconds / pyFloat:F3} (cpu {ourFloat.MedianCpuMilliseconds / pyFloatCpu:F3}); target ≤ 0.95");
        if (torch.WallMilliseconds.TryGetValue(PyTorchAnchor.FloatChannelsLast, out var cl))
        {
            double clWall = Benchmarks.BenchStatistics.Median(cl), clCpu = Benchmarks.BenchStatistics.Median(torch.CpuMilliseconds[PyTorchAnchor.FloatChannelsLast]);
            table.AddRow("", "", "", "float step, channels-last", Ms(clWall, clCpu), R(torch.RatioToFloat(PyTorchAnchor.FloatChannelsLast)),
                $"ours/PyTorch channels-last {ourFloat.MedianMilliseconds / clWall:F3} (cpu {ourFloat.MedianCpuMilliseconds / clCpu:F3})");
        }
        foreach (var r in rows.Where(r => r != ourFloat))
        {
            string anchor = QuantizerNames.TryParseMethod(r.Method, out var m) && m is QuantizerMethod.LearnablePo2 or QuantizerMethod.Lsq
                ? PyTorchAnchor.FusedLearnable
                : PyTorchAnchor.FusedMinMax;
            string target = m switch { QuantizerMethod.LearnablePo2 or QuantizerMethod.Lsq => "≤ 1.02", QuantizerMethod.MsqePo2 or QuantizerMethod.LegacyAutoPo2 => "≤ 1.05", _ => "" };
            table.AddRow(r.Method, Ms(r.MedianMilliseconds, r.MedianCpuMilliseconds), $"{R(r.RatioToFloat)} ({R(r.CpuRatioToFloat)})", anchor,
                Ms(Benchmarks.BenchStatistics.Median(torch.WallMilliseconds[anchor]), Benchmarks.BenchStatistics.Median(torch.CpuMilliseconds[anchor])),
                $"{R(torch.RatioToFloat(anchor))} ({R(torch.CpuRatioToFloat(anchor))})", target);
        }
        AnsiConsole.Write(table);
    }

    private static string Ms(double wall, double cpu) => $"{wall.ToString("F1", CultureInfo.InvariantCulture)} ({cpu.ToString("F1", CultureInfo.InvariantCulture)})";
    private static string R(double ratio) => ratio.ToString("F3", CultureInfo.InvariantCulture);
}

public sealed class TrialBenchSettings : CommandSettings
{
    [CommandArgument(0, "[spec]")]
    [Description("The sweep whose first trial is timed (default configs/quickstart.yaml).")]
    public string Spec { get; init; } = "configs/quickstart.yaml";

    [CommandOption("--compare-pytorch")]
    [Description("Then run the same model, data, epochs, batch and optimizer in PyTorch (python3 on PATH if it imports torch, else /usr/bin/python3).")]
    public bool ComparePyTorch { get; init; }

    [CommandOption("--python <PATH>")]
    [Description("The interpreter for --compare-pytorch (it must import torch and numpy).")]
    public string? Python { get; init; }

    [CommandOption("--pytorch-channels-last")]
    [Description("Run the PyTorch side channels-last too (model.to(memory_format=torch.channels_last)), as our MobileNets run; default: PyTorch's default layout.")]
    public bool PyTorchChannelsLast { get; init; }

    [CommandOption("--threads <N>")]
    [Description("Intra-op threads of the trial, on both sides (default 1, as a sweep's trials get when its slots fill the cores).")]
    [DefaultValue(1)]
    public int Threads { get; init; } = 1;

    [CommandOption("--rounds <N>")]
    [Description("Rounds, each a fresh process of ours then (with --compare-pytorch) one of PyTorch's; the ratio is the median of the rounds' (default 1: this process is ours).")]
    [DefaultValue(1)]
    public int Rounds { get; init; } = 1;

    /// <summary>Internal: run our side only, in this process, and print its figures as one JSON line (a round of --rounds).</summary>
    [CommandOption("--figures-json", IsHidden = true)]
    public bool FiguresJson { get; init; }

    public override ValidationResult Validate() =>
        Threads is < 1 or > Core.Trials.IntraOpThreads.Max ? ValidationResult.Error($"--threads must be from 1 to {Core.Trials.IntraOpThreads.Max}")
        : Rounds is < 1 or > 50 ? ValidationResult.Error("--rounds must be from 1 to 50")
        : ValidationResult.Success();
}

/// <summary>
/// <c>sweeper bench trial [spec]</c>: the first trial of a sweep as a whole process runs it (the .NET runtime's start,
/// the one-node cluster, the data set's load, every epoch and evaluation, the wind-down); prints the process's wall
/// time, the part of it outside the epochs, per-epoch times and its peak RSS, and with <c>--compare-pytorch</c> the
/// same for a PyTorch process. With <c>--rounds N</c> every round is a fresh process of ours (this command started
/// again) followed by PyTorch's, so that both sides of a round see the same machine, and the ratio printed is the
/// median over the rounds.
/// </summary>
public sealed class TrialBenchCommand : AsyncCommand<TrialBenchSettings>
{
    /// <summary>How a round's figures travel between the processes (NaN: a figure the trainable does not report).</summary>
    private static readonly JsonSerializerOptions FiguresJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public override async Task<int> ExecuteAsync(CommandContext context, TrialBenchSettings settings, CancellationToken cancellationToken)
    {
        SweepSpec spec;
        try { spec = SpecLoader.LoadFile(settings.Spec, Running.SpecChecks.Options); }
        catch (SpecException ex) { return Errors.Report(ex); }
        var source = new SpecTrialSource(spec);
        var first = source.Create(0);
        if (first is null) return Errors.Report($"{settings.Spec}: the sweep plans no trial.", Errors.InvalidInput);

        if (settings.FiguresJson || settings.Rounds == 1)
        {
            var (ours, failure) = await RunOursAsync(spec, source, first, settings.Threads, cancellationToken);
            if (ours is null) return Errors.Report(failure!);
            if (settings.FiguresJson)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(ours, FiguresJson));
                return Errors.Ok;
            }
            PrintHeader(spec, first, settings);
            var rows = new List<(int Round, TrialFigures Figures)> { (1, ours) };
            if (settings.ComparePyTorch)
            {
                var (torch, error) = RunPyTorch(settings, first);
                if (error is not null)
                {
                    PrintTable(rows);
                    return Errors.Report(error);
                }
                if (torch is not null) rows.Add((1, torch));
            }
            PrintTable(rows);
            PrintRatios(rows);
            return Errors.Ok;
        }

        PrintHeader(spec, first, settings);
        var all = new List<(int Round, TrialFigures Figures)>();
        bool compare = settings.ComparePyTorch;
        for (int round = 1; round <= settings.Rounds; round++)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"round {round} of {settings.Rounds} ..."));
            var (ours, failure) = await RunOursInChildAsync(settings, cancellationToken);
            if (ours is null)
            {
                PrintTable(all);
                return Errors.Report(failure!);
            }
            all.Add((round, ours));
            if (!compare) continue;
            var (torch, error) = RunPyTorch(settings, first);
            if (error is not null)
            {
                PrintTable(all);
                return Errors.Report(error);
            }
            if (torch is null) compare = false; // not available: said once, our rounds go on
            else all.Add((round, torch));
        }
        PrintTable(all);
        PrintRatios(all);
        return Errors.Ok;
    }

    private static void PrintHeader(SweepSpec spec, TrialConfig first, TrialBenchSettings settings)
    {
        var t = first.Trainable;
        AnsiConsole.MarkupLine(Markup.Escape($"{spec.Name} {first.Id}: {t.Model} width {t.Width}, {t.Dataset.Name} train {t.Dataset.TrainSubset?.ToString(CultureInfo.InvariantCulture) ?? "all"}" +
                                             $" (validation {t.Dataset.Validation?.ToString(CultureInfo.InvariantCulture) ?? "none"}), test {t.Dataset.TestSubset?.ToString(CultureInfo.InvariantCulture) ?? "all"}, {t.Epochs} epoch(s), batch {t.BatchSize}, {t.Optimizer.Name} lr {t.Optimizer.Lr.ToString(CultureInfo.InvariantCulture)}, {settings.Threads} thread(s)"));
        if (settings.ComparePyTorch && PyTorchAnchor.EnvironmentNote is { Length: > 0 } note) AnsiConsole.MarkupLine(Markup.Escape(note));
    }

    /// <summary>Our side in this process: the sweep host with one slot, timed from this process's start.</summary>
    private static async Task<(TrialFigures? Figures, string? Failure)> RunOursAsync(SweepSpec spec, SpecTrialSource source, TrialConfig first, int threads, CancellationToken cancellationToken)
    {
        var runDir = Directory.CreateTempSubdirectory("sweeper-bench-trial-").FullName;
        try
        {
            var result = await Running.SweepHost.RunAsync(spec with { Resources = spec.Resources with { MaxConcurrentTrials = 1 } }, new FirstTrialSource(source),
                new Cluster.Actors.CoordinatorOptions(runDir, Path.Combine(runDir, "checkpoints")), Running.TrainableFactories.Default,
                new Running.NodeOptions(Slots: 1, ThreadsPerTrial: threads), _ => { }, null, cancellationToken);
            double seconds = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds;
            var trial = result.Trials.Single();
            if (trial.State != TrialState.Completed) return (null, $"the trial ended {trial.State}: {trial.Reason}");
            long? parameters = Training.Models.ModelFactory.Names.Contains(first.Trainable.Model) && first.Trainable.Plugin is null
                ? PyTorchAnchor.CountParameters(first.Trainable.Model, first.Trainable.Width) : null;
            return (new TrialFigures("Sweeper (whole process)", parameters,
                seconds, trial.Epochs.Select(e => new TrialEpochFigures(e.Duration.TotalSeconds, Metric(e, MetricNames.TrainSeconds),
                    Metric(e, MetricNames.ValAccuracy), Metric(e, MetricNames.TestAccuracy))).ToList(), PeakRssMegabytes()), null);
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }

    /// <summary>Our side as a fresh process: this program again with <c>--figures-json</c>.</summary>
    private static async Task<(TrialFigures? Figures, string? Failure)> RunOursInChildAsync(TrialBenchSettings settings, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") start.ArgumentList.Add(typeof(TrialBenchCommand).Assembly.Location);
        foreach (var a in new[] { "bench", "trial", Path.GetFullPath(settings.Spec), "--threads", settings.Threads.ToString(CultureInfo.InvariantCulture), "--figures-json" })
            start.ArgumentList.Add(a);
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start a round");
        var stdout = child.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = child.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await child.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            throw;
        }
        string output = await stdout, errors = await stderr;
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (child.ExitCode != 0 || last is null || !last.StartsWith('{'))
            return (null, $"a round of ours failed (exit {child.ExitCode}): {(errors + output).Trim()}");
        return (JsonSerializer.Deserialize<TrialFigures>(last, FiguresJson), null);
    }

    /// <summary>PyTorch's side; null figures (and no error) when it is not available or cannot train this spec, which is said.</summary>
    private static (TrialFigures? Figures, string? Error) RunPyTorch(TrialBenchSettings settings, TrialConfig first)
    {
        var found = PyTorchAnchor.Discover(settings.Python);
        if (!found.Found)
        {
            AnsiConsole.MarkupLine(Markup.Escape(found.Message + "; our figures only."));
            return (null, null);
        }
        try
        {
            return (PyTorchAnchor.RunTrial(found.Interpreter!, first, settings.Threads, settings.PyTorchChannelsLast), null);
        }
        catch (ArgumentException e)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"PyTorch side not run: {e.Message}"));
            return (null, null);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or TimeoutException)
        {
            return (null, $"PyTorch side failed: {e.Message}");
        }
    }

    private static void PrintTable(IReadOnlyList<(int Round, TrialFigures Figures)> rows)
    {
        if (rows.Count == 0) return;
        bool rounds = rows.Any(r => r.Round > 1);
        var table = new Table().Border(TableBorder.Rounded).Title("one trial as a whole process");
        if (rounds) table.AddColumn("round");
        table.AddColumns("runner", "parameters", "process s", "outside epochs s", "epochs s (train s)", "val / test accuracy", "peak RSS MB");
        foreach (var (round, r) in rows)
        {
            var cells = new List<string>();
            if (rounds) cells.Add(round.ToString(CultureInfo.InvariantCulture));
            cells.AddRange([Markup.Escape(r.Runner), r.Parameters?.ToString("N0", CultureInfo.InvariantCulture) ?? "—", S(r.Seconds), S(OutsideEpochs(r)),
                string.Join(" + ", r.Epochs.Select(e => $"{S(e.Seconds)} ({S(e.TrainSeconds)})")),
                $"{r.Epochs[^1].ValAccuracy.ToString("F4", CultureInfo.InvariantCulture)} / {r.Epochs[^1].TestAccuracy.ToString("F4", CultureInfo.InvariantCulture)}",
                r.PeakRssMegabytes.ToString("F0", CultureInfo.InvariantCulture)]);
            table.AddRow(cells.ToArray());
        }
        AnsiConsole.Write(table);
    }

    /// <summary>Per round: our process and epoch times over PyTorch's; then the medians when there are several rounds.</summary>
    private static void PrintRatios(IReadOnlyList<(int Round, TrialFigures Figures)> rows)
    {
        var pairs = rows.GroupBy(r => r.Round).Where(g => g.Count() == 2).Select(g => (Ours: g.First().Figures, Torch: g.Last().Figures)).ToList();
        foreach (var (ours, torch) in pairs)
            AnsiConsole.MarkupLine(Markup.Escape($"ours / PyTorch: process {ours.Seconds / torch.Seconds:F3} (target ≤ 1), " +
                                                 $"epochs {string.Join(", ", ours.Epochs.Zip(torch.Epochs, (a, b) => (a.Seconds / b.Seconds).ToString("F3", CultureInfo.InvariantCulture)))}, " +
                                                 $"outside epochs {S(OutsideEpochs(ours))} s vs {S(OutsideEpochs(torch))} s; " +
                                                 $"parameters {(ours.Parameters == torch.Parameters ? "equal" : "DIFFERENT")}"));
        if (pairs.Count > 1)
        {
            double process = Benchmarks.BenchStatistics.Median(pairs.Select(p => p.Ours.Seconds / p.Torch.Seconds).ToArray());
            double epochs = Benchmarks.BenchStatistics.Median(pairs.Select(p => p.Ours.Epochs.Sum(e => e.Seconds) / p.Torch.Epochs.Sum(e => e.Seconds)).ToArray());
            AnsiConsole.MarkupLine(Markup.Escape($"median over {pairs.Count} rounds, ours / PyTorch: process {process:F3} (target ≤ 1, {(process <= 1 ? "met" : "not met")}), all epochs {epochs:F3}"));
        }
    }

    private static string S(double seconds) => seconds.ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>The process's seconds outside its epochs: start, data load, cluster, wind-down.</summary>
    private static double OutsideEpochs(TrialFigures f) => f.Seconds - f.Epochs.Sum(e => e.Seconds);

    private static double Metric(EpochResult e, string name) => e.Metrics.TryGetValue(name, out var v) ? v : double.NaN;

    /// <summary>VmHWM of this process (Linux), in MB; NaN elsewhere.</summary>
    private static double PeakRssMegabytes()
    {
        try
        {
            return Benchmarks.Memory.MemorySample.Megabytes(Benchmarks.Memory.ProcessMemory.Read().Peak);
        }
        catch (Exception e) when (e is PlatformNotSupportedException or InvalidDataException or IOException)
        {
            return double.NaN;
        }
    }

    /// <summary>The first trial of a source, and nothing after it.</summary>
    private sealed class FirstTrialSource(ITrialSource inner) : ITrialSource
    {
        public long? Total => 1;
        public TrialConfig? Create(int index) => index == 0 ? inner.Create(0) : null;
        public void Report(TrialConfig trial, double objective) => inner.Report(trial, objective);
    }
}
