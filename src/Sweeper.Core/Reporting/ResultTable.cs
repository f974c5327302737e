using System.Globalization;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;
using Sweeper.Core.Model;

namespace Sweeper.Core.Reporting;

/// <summary>
/// The results of a sweep as rows of text cells, best first: the one table behind the console,
/// Markdown and CSV outputs, so they always agree on rows and columns. For reading (console, Markdown, HTML) numbers
/// are rounded; for <c>results.csv</c> (<paramref name="exact"/>) they are written round-trippable.
/// </summary>
public sealed record ResultTable(IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows)
{
    /// <param name="exact">
    /// Every number at full precision (<see cref="Exact"/>: parameters, metrics, durations), as <c>results.csv</c> holds
    /// them; otherwise rounded for reading (parameters to 6 significant digits, metrics to 4 decimals, durations to 0.1 s).
    /// </param>
    public static ResultTable From(SweepResult result, bool exact = false)
    {
        var paramKeys = result.Trials.SelectMany(t => t.Config.Parameters.Select(p => p.Key)).Distinct().ToList();
        var columns = new List<string> { "rank", "trial", "state" };
        columns.AddRange(paramKeys);
        // Validation metrics (what the sweep selected on) come first when the trials report them.
        bool validation = result.Trials.Any(t => t.Last is { } last && last.Metrics.ContainsKey(MetricNames.ValAccuracy));
        columns.Add("epochs");
        if (validation) columns.AddRange([MetricNames.ValAccuracy, MetricNames.ValLoss]);
        columns.AddRange([MetricNames.TestAccuracy, MetricNames.TestLoss, MetricNames.TrainLoss, "duration_s", "resumed_from", "restarts", "verdict", "reason"]);
        var rows = new List<IReadOnlyList<string>>();
        int rank = 0;
        foreach (var t in result.Ranked())
        {
            var objective = t.Objective(result.Objective);
            var row = new List<string>
            {
                t.State != TrialState.Completed || double.IsNaN(objective) ? "-" : (++rank).ToString(CultureInfo.InvariantCulture),
                t.Id.ToString(),
                t.State.ToString().ToLowerInvariant(),
            };
            foreach (var key in paramKeys)
                row.Add(exact ? Exact(t.Config.Parameters.FirstOrDefault(p => p.Key == key).Value) : Format(t.Config.Parameters.FirstOrDefault(p => p.Key == key).Value));
            row.Add(t.Epochs.Count.ToString(CultureInfo.InvariantCulture));
            if (validation)
            {
                row.Add(Metric(t, MetricNames.ValAccuracy, exact));
                row.Add(Metric(t, MetricNames.ValLoss, exact));
            }
            row.Add(Metric(t, MetricNames.TestAccuracy, exact));
            row.Add(Metric(t, MetricNames.TestLoss, exact));
            row.Add(Metric(t, MetricNames.TrainLoss, exact));
            row.Add(t.Duration is { } d ? exact ? Exact(d.TotalSeconds) : d.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture) : "");
            row.Add(string.Join(" ", t.Resumes.Select(r => "epoch " + r.FromEpoch.ToString(CultureInfo.InvariantCulture))));
            var restarts = t.Restarts;
            var reruns = t.Attempts.Count(a => a.Rerun);
            row.Add(restarts == 0 && t.Crashes.Count == 0 && reruns == 0 ? "" : string.Join(", ", new[]
            {
                restarts > 0 ? $"{restarts} unstable" : null, t.Crashes.Count > 0 ? $"{t.Crashes.Count} crash(es)" : null,
                reruns > 0 ? $"{reruns} rerun(s)" : null,
            }.Where(x => x is not null)));
            row.Add(t.FinalVerdict);
            row.Add(t.Rung is { } rung ? $"rung {rung}: {t.Reason}" : t.Reason ?? "");
            rows.Add(row);
        }
        return new ResultTable(columns, rows);
    }

    public static string Format(object? value) => value switch
    {
        null => "",
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>
    /// A value at full precision, invariant: numbers round-trippable (the shortest text that parses back to the same
    /// double, <c>0.123456789012345</c>, <c>1E-05</c>, <c>Infinity</c>), booleans and text as <see cref="Format"/> writes them.
    /// </summary>
    public static string Exact(object? value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        _ => Format(value),
    };

    private static string Metric(TrialRecord t, string name, bool exact)
    {
        var v = t.Last?.Get(name) ?? double.NaN;
        return double.IsNaN(v) ? "" : exact ? Exact(v) : v.ToString("F4", CultureInfo.InvariantCulture);
    }
}
