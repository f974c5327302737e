using Spectre.Console;
using Sweeper.Core.Reporting;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;

namespace Sweeper.Cli.Output;

/// <summary>The final results table on the console: the same rows as summary.md and results.csv.</summary>
public static class ResultsView
{
    public static void Write(IAnsiConsole console, SweepResult result, string runDirectory)
    {
        var table = ResultTable.From(result);
        var view = new Table().Border(TableBorder.Rounded)
            .Title($"[bold]{Markup.Escape(result.Name)}[/]: {table.Rows.Count} trial(s), sorted by {Markup.Escape(result.Objective.Metric)} ({result.Objective.Mode.ToString().ToLowerInvariant()})");
        foreach (var c in table.Columns) view.AddColumn(new TableColumn(Markup.Escape(c)));
        foreach (var row in table.Rows) view.AddRow(row.Select(Markup.Escape).ToArray());
        console.Write(view);
        if (result.Best is { } best)
            console.MarkupLine($"best: [green]{best.Id}[/] {Markup.Escape(result.Objective.Metric)} = [green]{best.Objective(result.Objective):F4}[/]");
        if (result.StopReason is { } why) console.MarkupLine($"the sweep stopped early: {Markup.Escape(why)}");
        var (run, planned) = result.EpochTotals;
        console.MarkupLine($"epochs run: {run} of {planned} ({result.Trials.Count(t => t.State == TrialState.Stopped)} trial(s) stopped early)");
        if (result.Trials.Count(t => t.Interrupted) is > 0 and var interrupted)
            console.MarkupLine($"{interrupted} interrupted trial(s) continue from their newest checkpoint with: [bold]sweeper resume {Markup.Escape(runDirectory)}[/]");
        console.MarkupLine($"results: [link]{Markup.Escape(runDirectory)}[/] ({ReportWriter.SummaryFile}, {ReportWriter.CsvFile}, {ReportWriter.EpochsCsvFile}, {ReportWriter.JsonFile})");
    }
}
