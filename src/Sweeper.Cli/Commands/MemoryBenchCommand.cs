using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Benchmarks.Memory;
using Sweeper.Cli.Output;
using Sweeper.Training.Data;

namespace Sweeper.Cli.Commands;

public sealed class MemoryBenchSettings : CommandSettings
{
    [CommandOption("--trials <N>")]
    [Description("Tiny real trainings to run one after another (default 200).")]
    [DefaultValue(200)]
    public int Trials { get; init; } = 200;

    [CommandOption("--dataset <PATH>")]
    [Description("The Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist).")]
    [DefaultValue(FashionMnist.DefaultPath)]
    public string Dataset { get; init; } = FashionMnist.DefaultPath;

    public override ValidationResult Validate() =>
        Trials < 1 ? ValidationResult.Error("--trials must be at least 1") : ValidationResult.Success();
}

/// <summary>
/// <c>sweeper bench memory</c>: N tiny real trainings (MobileNetV1 w0.25, 128 Fashion-MNIST images, one epoch) through
/// the path <c>sweeper run</c> takes in one process, one slot; prints the resident set size at the start and after
/// trial 1, 20, 50, 100 and N, the growth from trial 20 to N, the peak and the managed heap, beside the targets.
/// </summary>
public sealed class MemoryBenchCommand : AsyncCommand<MemoryBenchSettings>
{
    /// <summary>Issue 15's targets: RSS plateau and growth from trial 20 to 200.</summary>
    public const double PlateauTargetMb = 500, GrowthTargetMb = 20;

    public override async Task<int> ExecuteAsync(CommandContext context, MemoryBenchSettings settings, CancellationToken cancellationToken)
    {
        var problems = DatasetFactory.Check(new Core.Spec.DatasetSpec { Name = FashionMnist.Name, Path = settings.Dataset });
        if (problems.Count > 0) return Errors.Report(problems[0], Errors.InvalidInput);
        AnsiConsole.MarkupLine(Markup.Escape($"{settings.Trials} trials: MobileNetV1 w0.25, 1 epoch on 128 Fashion-MNIST images from {Path.GetFullPath(settings.Dataset)}, 1 slot, in this process"));
        var figures = await MemoryBenchmark.RunAsync(settings.Trials, settings.Dataset, Running.TrainableFactories.Default,
            s => AnsiConsole.MarkupLine(Markup.Escape($"  {s.Label}: RSS {Mb(s.RssBytes)} MB ({Mb(s.AnonRssBytes)} MB anonymous)")), cancellationToken);

        var table = new Table().Border(TableBorder.Rounded).Title("memory of one worker process, 1 slot (VmRSS, VmHWM from /proc/self/status)");
        table.AddColumns("when", "RSS MB", "of it anonymous MB", "peak RSS MB", "managed heap MB", "RSS target");
        foreach (var s in figures.Samples)
            table.AddRow(s.Label, Mb(s.RssBytes), Mb(s.AnonRssBytes), Mb(s.PeakRssBytes), Mb(s.ManagedHeapBytes), s.Trials > 0 ? $"≤ {PlateauTargetMb:F0}" : "");
        AnsiConsole.Write(table);
        var last = figures.Samples[^1];
        var growth = figures.GrowthBytes is { } g
            ? $"growth from trial {MemoryFigures.GrowthFrom} to {last.Trials}: {Signed(g)} MB (target ≤ {GrowthTargetMb:F0} MB; anonymous memory {Signed(figures.AnonGrowthBytes ?? 0)} MB)"
            : $"growth: needs more than {MemoryFigures.GrowthFrom} trials";
        AnsiConsole.MarkupLine(Markup.Escape($"RSS after {last.Trials} trials: {Mb(last.RssBytes)} MB (target ≤ {PlateauTargetMb:F0} MB); {growth}; " +
                                             $"peak {Mb(figures.PeakRssBytes)} MB; managed heap {Mb(last.ManagedHeapBytes)} MB"));
        return Errors.Ok;
    }

    private static string Mb(long bytes) => MemorySample.Megabytes(bytes).ToString("F1", CultureInfo.InvariantCulture);

    private static string Signed(long bytes) => MemorySample.Megabytes(bytes).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);
}
