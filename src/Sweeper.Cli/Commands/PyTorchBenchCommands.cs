using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
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
        var torch = PyTorchAnchor.MeasureStep(found.Interpreter!, options);
        var ourFloat = rows.Single(r => r.Method == QuantizerMethod.None.Word());
        double pyFloat = PyTorchAnchor.Median(torch.WallMilliseconds[PyTorchAnchor.Float]);
        double pyFloatCpu = PyTorchAnchor.Median(torch.CpuMilliseconds[PyTorchAnchor.Float]);
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"against PyTorch {torch.TorchVersion} ({torch.Threads} thread(s)), same architecture: parameters ours {ours:N0}, PyTorch {torch.Parameters:N0}" + (ours == torch.Parameters ? "" : " — DIFFERENT"));
        table.AddColumns("method", "ours ms (cpu ms)", "ours × float (cpu)", "PyTorch anchor", "PyTorch ms (cpu ms)", "PyTorch × float (cpu)", "target");
        table.AddRow("none (float)", Ms(ourFloat.MedianMilliseconds, ourFloat.MedianCpuMilliseconds), "1", "float step", Ms(pyFloat, pyFloatCpu), "1",
            $"ours/PyTorch {ourFloat.MedianMilliseconds / pyFloat:F3} (cpu {ourFloat.MedianCpuMilliseconds / pyFloatCpu:F3}); target ≤ 0.95");
        foreach (var r in rows.Where(r => r != ourFloat))
        {
            string anchor = QuantizerNames.TryParseMethod(r.Method, out var m) && m is QuantizerMethod.LearnablePo2 or QuantizerMethod.Lsq
                ? PyTorchAnchor.FusedLearnable
                : PyTorchAnchor.FusedMinMax;
            string target = m switch { QuantizerMethod.LearnablePo2 or QuantizerMethod.Lsq => "≤ 1.02", QuantizerMethod.MsqePo2 or QuantizerMethod.LegacyAutoPo2 => "≤ 1.05", _ => "" };
            table.AddRow(r.Method, Ms(r.MedianMilliseconds, r.MedianCpuMilliseconds), $"{R(r.RatioToFloat)} ({R(r.CpuRatioToFloat)})", anchor,
                Ms(PyTorchAnchor.Median(torch.WallMilliseconds[anchor]), PyTorchAnchor.Median(torch.CpuMilliseconds[anchor])),
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

    [CommandOption("--threads <N>")]
    [Description("Intra-op threads of the trial, on both sides (default 1, as a sweep's trials get when its slots fill the cores).")]
    [DefaultValue(1)]
    public int Threads { get; init; } = 1;

    public override ValidationResult Validate() =>
        Threads is < 1 or > Core.Trials.IntraOpThreads.Max ? ValidationResult.Error($"--threads must be from 1 to {Core.Trials.IntraOpThreads.Max}") : ValidationResult.Success();
}

/// <summary>
/// <c>sweeper bench trial [spec]</c>: the first trial of a sweep as this whole process runs it (the .NET runtime's start,
/// the one-node cluster, the data set's load, every epoch and evaluation); prints the process's wall time since it
/// started, per-epoch times and its peak RSS, and with <c>--compare-pytorch</c> the same for a PyTorch process.
/// </summary>
public sealed class TrialBenchCommand : AsyncCommand<TrialBenchSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, TrialBenchSettings settings, CancellationToken cancellationToken)
    {
        SweepSpec spec;
        try { spec = SpecLoader.LoadFile(settings.Spec, Running.SpecChecks.Options); }
        catch (SpecException ex) { return Errors.Report(ex); }
        var source = new SpecTrialSource(spec);
        var first = source.Create(0);
        if (first is null) return Errors.Report($"{settings.Spec}: the sweep plans no trial.", Errors.InvalidInput);

        var runDir = Directory.CreateTempSubdirectory("sweeper-bench-trial-").FullName;
        TrialFigures ours;
        try
        {
            var result = await Running.SweepHost.RunAsync(spec with { Resources = spec.Resources with { MaxConcurrentTrials = 1 } }, new FirstTrialSource(source),
                new Cluster.Actors.CoordinatorOptions(runDir, Path.Combine(runDir, "checkpoints")), Running.TrainableFactories.Default,
                new Running.NodeOptions(Slots: 1, ThreadsPerTrial: settings.Threads), _ => { }, null, cancellationToken);
            double seconds = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds;
            var trial = result.Trials.Single();
            if (trial.State != TrialState.Completed)
                return Errors.Report($"the trial ended {trial.State}: {trial.Reason}");
            long? parameters = Training.Models.ModelFactory.Names.Contains(first.Trainable.Model) && first.Trainable.Plugin is null
                ? PyTorchAnchor.CountParameters(first.Trainable.Model, first.Trainable.Width) : null;
            ours = new TrialFigures("Sweeper (whole process)", parameters,
                seconds, trial.Epochs.Select(e => new TrialEpochFigures(e.Duration.TotalSeconds, Metric(e, MetricNames.TrainSeconds),
                    Metric(e, MetricNames.ValAccuracy), Metric(e, MetricNames.TestAccuracy))).ToList(), PeakRssMegabytes());
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }

        var t = first.Trainable;
        AnsiConsole.MarkupLine(Markup.Escape($"{spec.Name} {first.Id}: {t.Model} width {t.Width}, {t.Dataset.Name} train {t.Dataset.TrainSubset?.ToString(CultureInfo.InvariantCulture) ?? "all"}" +
                                             $" (validation {t.Dataset.Validation?.ToString(CultureInfo.InvariantCulture) ?? "none"}), test {t.Dataset.TestSubset?.ToString(CultureInfo.InvariantCulture) ?? "all"}, {t.Epochs} epoch(s), batch {t.BatchSize}, {t.Optimizer.Name} lr {t.Optimizer.Lr.ToString(CultureInfo.InvariantCulture)}, {settings.Threads} thread(s)"));
        var rows = new List<TrialFigures> { ours };
        if (settings.ComparePyTorch)
        {
            var found = PyTorchAnchor.Discover(settings.Python);
            if (!found.Found)
            {
                AnsiConsole.MarkupLine(Markup.Escape(found.Message + "; our figures only."));
            }
            else
            {
                try
                {
                    rows.Add(PyTorchAnchor.RunTrial(found.Interpreter!, first, settings.Threads));
                }
                catch (ArgumentException e)
                {
                    AnsiConsole.MarkupLine(Markup.Escape($"PyTorch side not run: {e.Message}"));
                }
                catch (Exception e) when (e is InvalidOperationException or FormatException or TimeoutException)
                {
                    PrintTable(rows);
                    return Errors.Report($"PyTorch side failed: {e.Message}");
                }
            }
        }

        PrintTable(rows);
        if (rows.Count == 2)
            AnsiConsole.MarkupLine(Markup.Escape($"ours / PyTorch: process {ours.Seconds / rows[1].Seconds:F3} (target ≤ 1), " +
                                                 $"epochs {string.Join(", ", ours.Epochs.Zip(rows[1].Epochs, (a, b) => (a.Seconds / b.Seconds).ToString("F3", CultureInfo.InvariantCulture)))}; " +
                                                 $"parameters {(ours.Parameters == rows[1].Parameters ? "equal" : "DIFFERENT")}"));
        return Errors.Ok;
    }

    private static void PrintTable(IReadOnlyList<TrialFigures> rows)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("one trial as a whole process");
        table.AddColumns("runner", "parameters", "process s", "epochs s (train s)", "val / test accuracy", "peak RSS MB");
        foreach (var r in rows)
            table.AddRow(Markup.Escape(r.Runner), r.Parameters?.ToString("N0", CultureInfo.InvariantCulture) ?? "—", r.Seconds.ToString("F1", CultureInfo.InvariantCulture),
                string.Join(" + ", r.Epochs.Select(e => $"{e.Seconds.ToString("F1", CultureInfo.InvariantCulture)} ({e.TrainSeconds.ToString("F1", CultureInfo.InvariantCulture)})")),
                $"{r.Epochs[^1].ValAccuracy.ToString("F4", CultureInfo.InvariantCulture)} / {r.Epochs[^1].TestAccuracy.ToString("F4", CultureInfo.InvariantCulture)}",
                r.PeakRssMegabytes.ToString("F0", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
    }

    private static double Metric(EpochResult e, string name) => e.Metrics.TryGetValue(name, out var v) ? v : double.NaN;

    /// <summary>VmHWM of this process (Linux), in MB; NaN elsewhere.</summary>
    private static double PeakRssMegabytes()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? double.NaN : double.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException)
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
