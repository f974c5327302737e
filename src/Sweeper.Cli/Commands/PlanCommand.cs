using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Cli.Commands;

public sealed class PlanSettings : CommandSettings
{
    [CommandArgument(0, "<spec>")]
    [Description("The sweep spec (YAML).")]
    public string Spec { get; init; } = "";

    [CommandOption("--limit <N>")]
    [Description("List at most N trials (default 100).")]
    [DefaultValue(100)]
    public int Limit { get; init; } = 100;

    public override ValidationResult Validate() => Limit < 1 ? ValidationResult.Error("--limit must be at least 1") : ValidationResult.Success();
}

/// <summary>
/// <c>sweeper plan spec.yaml</c>: the trials the spec would start, in order, with their seeds and parameters.
/// Deterministic for a seed. TPE's suggestions after its startup trials depend on results; the plan shows what it
/// would suggest before any result.
/// </summary>
public sealed class PlanCommand : Command<PlanSettings>
{
    public override int Execute(CommandContext context, PlanSettings settings, CancellationToken cancellationToken)
    {
        SweepSpec spec;
        try { spec = SpecLoader.LoadFile(settings.Spec, Running.SpecChecks.Options); }
        catch (SpecException ex) { return Errors.Report(ex); }

        var source = new SpecTrialSource(spec);
        var trials = SpecTrialSource.Preview(spec, settings.Limit);
        var keys = trials.SelectMany(t => t.Parameters.Select(p => p.Key)).Distinct().ToList();
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumns(["trial", "config", "repeat", "seed", .. keys.Select(Markup.Escape)]);
        foreach (var t in trials)
            table.AddRow([t.Id.ToString(), t.ConfigIndex.ToString(System.Globalization.CultureInfo.InvariantCulture),
                t.Repeat.ToString(System.Globalization.CultureInfo.InvariantCulture), t.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                .. keys.Select(k => Markup.Escape(ResultTable.Format(t.Parameters.FirstOrDefault(p => p.Key == k).Value)))]);
        AnsiConsole.Write(table);
        var total = source.Total is { } n ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : "unbounded";
        AnsiConsole.MarkupLine($"{trials.Count} of {total} trial(s) shown; {spec.Search.Algorithm} search, seed {spec.Seed}"
            + (spec.Search.Algorithm == "tpe" ? " (TPE's later suggestions depend on results: shown as before any result)" : ""));
        return Errors.Ok;
    }
}
