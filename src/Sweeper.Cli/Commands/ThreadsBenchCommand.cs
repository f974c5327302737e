using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Benchmarks.Training;
using Sweeper.Cli.Output;

namespace Sweeper.Cli.Commands;

public sealed class ThreadsBenchSettings : CommandSettings
{
    [CommandOption("--threads <N>")]
    [Description("The intra-op thread count timed against one thread (default: this machine's cores).")]
    public int? Threads { get; init; }

    [CommandOption("--rounds <N>")]
    [Description("Interleaved rounds per thread count (default 7).")]
    [DefaultValue(7)]
    public int Rounds { get; init; } = 7;

    [CommandOption("--compare-pytorch")]
    [Description("Also time PyTorch's float step of the same architecture with 1 and N threads (python3 with torch, else /usr/bin/python3), and print its speed-up.")]
    public bool ComparePyTorch { get; init; }

    [CommandOption("--python <PATH>")]
    [Description("The Python interpreter for --compare-pytorch.")]
    public string? Python { get; init; }

    public override ValidationResult Validate() =>
        Threads is < 2 or > Core.Trials.IntraOpThreads.Max ? ValidationResult.Error($"--threads must be from 2 to {Core.Trials.IntraOpThreads.Max}")
        : Rounds < 1 ? ValidationResult.Error("--rounds must be at least 1")
        : ValidationResult.Success();
}

/// <summary>
/// <c>sweeper bench threads</c>: what more intra-op threads give one trial (<c>--threads-per-trial</c>): the float training
/// step of MobileNetV2 (width 0.5, 28×28, batch 128) with one thread and with N, interleaved, and the speed-up.
/// </summary>
public sealed class ThreadsBenchCommand : Command<ThreadsBenchSettings>
{
    /// <summary>
    /// PyTorch 1.13's two-thread speed-up of a small MobileNet's training step on a 2-core machine, as issue 15 measured it:
    /// with glibc's adaptive malloc thresholds, which slow PyTorch's one-thread step of a model alone far more than its
    /// two-thread one (with our malloc settings, what <c>--compare-pytorch</c> uses, it measured 1.36× here).
    /// </summary>
    public const double PyTorchTwoThreadSpeedUp = 1.68;

    public override int Execute(CommandContext context, ThreadsBenchSettings settings, CancellationToken cancellationToken)
    {
        int threads = settings.Threads ?? Math.Max(2, Environment.ProcessorCount);
        var rows = IntraOpThreadsBench.Measure([threads], new TrainingStepBenchOptions { Rounds = settings.Rounds });
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"training step (float), MobileNetV2 width 0.5, 28×28, batch 128; {Environment.ProcessorCount} core(s)");
        table.AddColumns("intra-op threads", "median ms/step", "speed-up vs 1 thread");
        foreach (var r in rows)
            table.AddRow(r.Threads.ToString(CultureInfo.InvariantCulture), r.MedianMilliseconds.ToString("F1", CultureInfo.InvariantCulture),
                r.SpeedUp.ToString("F2", CultureInfo.InvariantCulture) + "×");
        AnsiConsole.Write(table);
        if (threads > Environment.ProcessorCount)
            AnsiConsole.MarkupLine($"[yellow]{threads} threads on {Environment.ProcessorCount} core(s): oversubscribed[/]");
        var wide = rows[^1];
        double anchor = PyTorchTwoThreadSpeedUp;
        string anchorSource = "PyTorch 1.13, 2 threads on a 2-core machine, measured for issue 15 with glibc's adaptive malloc thresholds";
        if (settings.ComparePyTorch)
        {
            var python = Benchmarks.PyTorch.PyTorchAnchor.Discover(settings.Python);
            if (!python.Found) AnsiConsole.MarkupLine(Markup.Escape(python.Message));
            else
            {
                AnsiConsole.MarkupLine($"PyTorch side through {Markup.Escape(python.Interpreter!)}: 1 and {threads} thread(s), {settings.Rounds} rounds each, its own processes ...");
                if (Benchmarks.PyTorch.PyTorchAnchor.EnvironmentNote is { Length: > 0 } note) AnsiConsole.MarkupLine(Markup.Escape(note));
                double Step(int t) => Benchmarks.BenchStatistics.Median(Benchmarks.PyTorch.PyTorchAnchor.MeasureStep(python.Interpreter!,
                    new TrainingStepBenchOptions { Rounds = settings.Rounds, Threads = t }, [Benchmarks.PyTorch.PyTorchAnchor.Float]).WallMilliseconds[Benchmarks.PyTorch.PyTorchAnchor.Float]);
                double one = Step(1), many = Step(threads);
                anchor = one / many;
                anchorSource = $"PyTorch measured now: {one:F1} → {many:F1} ms/step";
            }
        }
        AnsiConsole.MarkupLine($"{wide.Threads} threads: {wide.SpeedUp:F2}× one thread; PyTorch: {anchor:F2}× ({Markup.Escape(anchorSource)}); " +
                               $"ours/PyTorch gain {wide.SpeedUp / anchor:F2} (1.00 = the same gain)");
        return Errors.Ok;
    }
}
