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
    /// <summary>PyTorch 1.13's two-thread speed-up of a small MobileNet's training step on a 2-core machine (issue 15).</summary>
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
        var two = rows.FirstOrDefault(r => r.Threads == 2);
        if (two is not null)
            AnsiConsole.MarkupLine($"2 threads: {two.SpeedUp:F2}× one thread; PyTorch 1.13 on a 2-core machine: {PyTorchTwoThreadSpeedUp:F2}× (issue 15); " +
                                   $"ratio {two.SpeedUp / PyTorchTwoThreadSpeedUp:F2} (1.00 = the same gain)");
        return Errors.Ok;
    }
}
