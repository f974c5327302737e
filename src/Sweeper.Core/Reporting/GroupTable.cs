using System.Globalization;
using System.Text;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;
using Sweeper.Core.Model;

namespace Sweeper.Core.Reporting;

/// <summary>Count, mean, sample standard deviation (n − 1), min and max of the finite values; NaN and ±∞ are left out.</summary>
public readonly record struct SeedStats(int Count, double Mean, double Std, double Min, double Max)
{
    public static readonly SeedStats Empty = new(0, double.NaN, double.NaN, double.NaN, double.NaN);

    public static SeedStats Of(IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToList();
        if (finite.Count == 0) return Empty;
        double mean = finite.Sum() / finite.Count;
        // Two passes: the squared deviations from the mean, not the difference of two large sums.
        double std = finite.Count < 2 ? double.NaN : Math.Sqrt(finite.Sum(v => (v - mean) * (v - mean)) / (finite.Count - 1));
        return new SeedStats(finite.Count, mean, std, finite.Min(), finite.Max());
    }
}

/// <summary>
/// Trials pooled into one row of the comparison: by default every trial of one configuration (its repeats differ
/// only in the seed); with explicit keys, every trial with the same values of those parameters.
/// </summary>
/// <param name="Values">The group's value of each key of the table, formatted like the results table.</param>
/// <param name="Objective">The objective over the group's completed trials with a finite value (the seeds).</param>
/// <param name="Resumes">How many times the group's trials were resumed from a checkpoint, in all.</param>
/// <param name="Flips">Mean over the group's trials that count flips of their flips in all (<see cref="EpochFlips.Total"/>; NaN: none counts them).</param>
/// <param name="Test">With a validation objective: the matching test metric (<c>val_accuracy</c> → <c>test_accuracy</c>) over the
/// same completed trials, for the record (the sweep never chose on it); otherwise empty.</param>
/// <param name="Restarts">Restarts for instability in all (attempts beyond each trial's first).</param>
/// <param name="FlipsPerEpoch">Mean over the trials that count flips of their flips (<see cref="EpochFlips.Total"/>) / epochs run (NaN: none).</param>
/// <param name="Clipped">Mean over the trials that report it of <c>quant.clipped_fraction</c> at their last epoch (NaN: none).</param>
public sealed record TrialGroup(IReadOnlyList<string> Values, IReadOnlyList<TrialRecord> Trials, int Completed, SeedStats Objective, int Resumes, double Flips)
{
    public SeedStats Test { get; init; } = SeedStats.Empty;
    public int Restarts { get; init; }
    public double FlipsPerEpoch { get; init; } = double.NaN;
    public double Clipped { get; init; } = double.NaN;
}

/// <summary>
/// The paper-style comparison: each group's objective as mean ± std over seeds, best first, with its trial count,
/// resumes and mean exponent flips. Shown on the console, in <c>summary.md</c> and written to <c>groups.csv</c>.
/// </summary>
public sealed record GroupTable(ObjectiveSpec Objective, IReadOnlyList<string> Keys, bool ByConfiguration, IReadOnlyList<TrialGroup> Groups)
{
    public const string CsvFile = "groups.csv";

    /// <summary>Groups <paramref name="result"/>'s trials by <paramref name="keys"/> (parameter keys, see
    /// <see cref="ResolveKeys"/>), or, when none are given, by configuration.</summary>
    public static GroupTable From(SweepResult result, IReadOnlyList<string>? keys = null)
    {
        var parameterKeys = ParameterKeys(result);
        bool byConfiguration = keys is null || keys.Count == 0;
        var columns = byConfiguration ? parameterKeys : ResolveKeys(result, keys!);
        // By configuration: the config index and every parameter value (a journal without config indexes never lumps
        // different configurations together).
        var groups = result.Trials
            .GroupBy(t => (byConfiguration ? t.Config.ConfigIndex : 0, Key: string.Join("\u001f", columns.Select(k => Value(t, k)))))
            .Select(g => Summarize(g.ToList(), columns, result.Objective))
            .ToList();
        var ranked = groups
            .OrderBy(g => g.Objective.Count == 0 ? 1 : 0)
            .ThenBy(g => -result.Objective.Score(g.Objective.Mean))
            .ThenBy(g => g.Trials.Min(t => t.Id.Index))
            .ToList();
        return new GroupTable(result.Objective, columns, byConfiguration, ranked);
    }

    /// <summary>The swept parameter keys of a sweep, in the order of the results table.</summary>
    public static IReadOnlyList<string> ParameterKeys(SweepResult result) =>
        result.Trials.SelectMany(t => t.Config.Parameters.Select(p => p.Key)).Distinct().ToList();

    /// <summary>
    /// Maps requested keys to parameter keys: a full dotted key, or its last part(s) when they name one parameter
    /// (<c>bits</c> for <c>trainable.quantizer.bits</c>). Throws <see cref="ArgumentException"/> naming the keys there are.
    /// </summary>
    public static IReadOnlyList<string> ResolveKeys(SweepResult result, IReadOnlyList<string> requested)
    {
        var available = ParameterKeys(result);
        var resolved = new List<string>();
        var problems = new List<string>();
        foreach (var raw in requested)
        {
            var key = raw.Trim();
            if (key.Length == 0) continue;
            var matches = available.Contains(key, StringComparer.Ordinal)
                ? [key]
                : available.Where(k => k.EndsWith("." + key, StringComparison.Ordinal)).ToList();
            if (matches.Count == 1)
            {
                if (!resolved.Contains(matches[0])) resolved.Add(matches[0]);
            }
            else if (matches.Count == 0) problems.Add($"'{key}' is not a swept parameter");
            else problems.Add($"'{key}' is ambiguous ({string.Join(", ", matches)})");
        }
        if (problems.Count > 0)
            throw new ArgumentException(string.Join("; ", problems) + (available.Count == 0
                ? "; this sweep has no swept parameters"
                : "; the swept parameters are: " + string.Join(", ", available)));
        if (resolved.Count == 0) throw new ArgumentException("no group-by key given");
        return resolved;
    }

    /// <summary>True when some group holds more than one trial (otherwise the table repeats the results table).</summary>
    public bool PoolsTrials => Groups.Any(g => g.Trials.Count > 1);

    /// <summary>How the trials were grouped, for titles.</summary>
    public string Description => ByConfiguration
        ? "by configuration (its repeats differ only in the seed)"
        : "by " + string.Join(", ", Keys);

    /// <summary>The header of the objective column.</summary>
    public string ObjectiveColumn => Objective.Metric + " (mean ± std)";

    /// <summary>With a validation objective (<c>val_x</c>), the test metric reported beside it (<c>test_x</c>); else null.</summary>
    public string? TestMetric => TestMetricOf(Objective);

    private static string? TestMetricOf(ObjectiveSpec objective) =>
        objective.Metric.StartsWith("val_", StringComparison.Ordinal) ? "test_" + objective.Metric["val_".Length..] : null;

    private bool HasTest => TestMetric is not null && Groups.Any(g => g.Test.Count > 0);
    private bool HasRestarts => Groups.Any(g => g.Restarts > 0);
    private bool HasQuant => Groups.Any(g => double.IsFinite(g.FlipsPerEpoch) || double.IsFinite(g.Clipped));

    /// <summary>Rows for the console and Markdown: the objective as <c>mean ± std</c>.</summary>
    public ResultTable Text()
    {
        var columns = new List<string> { "rank" };
        columns.AddRange(Keys);
        columns.AddRange(["trials", "completed", ObjectiveColumn, "min", "max"]);
        if (HasTest) columns.Add(TestMetric + " (mean ± std)");
        columns.AddRange(["resumes", "flips"]);
        if (HasRestarts) columns.Add("restarts");
        if (HasQuant) columns.AddRange(["flips/epoch", "clipped"]);
        var rows = new List<IReadOnlyList<string>>();
        int rank = 0;
        foreach (var g in Groups)
        {
            var row = new List<string> { g.Objective.Count == 0 ? "-" : (++rank).ToString(CultureInfo.InvariantCulture) };
            row.AddRange(g.Values);
            row.Add(g.Trials.Count.ToString(CultureInfo.InvariantCulture));
            row.Add(g.Completed.ToString(CultureInfo.InvariantCulture));
            row.Add(MeanStd(g.Objective));
            row.Add(F4(g.Objective.Min));
            row.Add(F4(g.Objective.Max));
            if (HasTest) row.Add(MeanStd(g.Test));
            row.Add(g.Resumes.ToString(CultureInfo.InvariantCulture));
            row.Add(double.IsNaN(g.Flips) ? "" : g.Flips.ToString("F1", CultureInfo.InvariantCulture));
            if (HasRestarts) row.Add(g.Restarts.ToString(CultureInfo.InvariantCulture));
            if (HasQuant)
            {
                row.Add(double.IsNaN(g.FlipsPerEpoch) ? "" : g.FlipsPerEpoch.ToString("F1", CultureInfo.InvariantCulture));
                row.Add(double.IsNaN(g.Clipped) ? "" : g.Clipped.ToString("F4", CultureInfo.InvariantCulture));
            }
            rows.Add(row);
        }
        return new ResultTable(columns, rows);
    }

    /// <summary>Rows for <c>groups.csv</c>: every figure in its own column, at full precision.</summary>
    public ResultTable CsvRows()
    {
        var columns = new List<string> { "rank" };
        columns.AddRange(Keys);
        columns.AddRange(["trials", "completed", "n", Objective.Metric + "_mean", Objective.Metric + "_std", Objective.Metric + "_min", Objective.Metric + "_max"]);
        if (HasTest) columns.AddRange([TestMetric + "_mean", TestMetric + "_std"]);
        columns.AddRange(["resumes", "flips_mean"]);
        if (HasRestarts) columns.Add("restarts");
        if (HasQuant) columns.AddRange(["flips_per_epoch_mean", "clipped_fraction_mean"]);
        columns.Add("trial_ids");
        var rows = new List<IReadOnlyList<string>>();
        int rank = 0;
        foreach (var g in Groups)
        {
            var row = new List<string> { g.Objective.Count == 0 ? "-" : (++rank).ToString(CultureInfo.InvariantCulture) };
            row.AddRange(g.Values);
            row.Add(g.Trials.Count.ToString(CultureInfo.InvariantCulture));
            row.Add(g.Completed.ToString(CultureInfo.InvariantCulture));
            row.Add(g.Objective.Count.ToString(CultureInfo.InvariantCulture));
            row.Add(R(g.Objective.Mean));
            row.Add(R(g.Objective.Std));
            row.Add(R(g.Objective.Min));
            row.Add(R(g.Objective.Max));
            if (HasTest)
            {
                row.Add(R(g.Test.Mean));
                row.Add(R(g.Test.Std));
            }
            row.Add(g.Resumes.ToString(CultureInfo.InvariantCulture));
            row.Add(R(g.Flips));
            if (HasRestarts) row.Add(g.Restarts.ToString(CultureInfo.InvariantCulture));
            if (HasQuant)
            {
                row.Add(R(g.FlipsPerEpoch));
                row.Add(R(g.Clipped));
            }
            row.Add(string.Join(" ", g.Trials.Select(t => t.Id.ToString())));
            rows.Add(row);
        }
        return new ResultTable(columns, rows);
    }

    public string Csv() => ReportWriter.Csv(CsvRows());

    /// <summary>The section appended to <c>summary.md</c> (it starts with a blank line).</summary>
    public string Markdown()
    {
        var table = Text();
        var sb = new StringBuilder();
        sb.Append("\n## Groups ").Append(Description).Append("\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"{Objective.Metric} over the completed trials of each group (std: sample standard deviation, n − 1; trials without a finite value are left out).\n\n");
        sb.Append("| ").AppendJoin(" | ", table.Columns.Select(Escape)).Append(" |\n");
        sb.Append('|').AppendJoin('|', table.Columns.Select(_ => " --- ")).Append("|\n");
        foreach (var row in table.Rows) sb.Append("| ").AppendJoin(" | ", row.Select(Escape)).Append(" |\n");
        return sb.ToString();

        static string Escape(string cell) => cell.Replace("|", "\\|");
    }

    /// <summary><c>0.8123 ± 0.0042</c>; the mean alone for one value; empty for none.</summary>
    public static string MeanStd(SeedStats s) => s.Count switch
    {
        0 => "",
        1 => F4(s.Mean),
        _ => $"{F4(s.Mean)} ± {F4(s.Std)}",
    };

    private static TrialGroup Summarize(IReadOnlyList<TrialRecord> trials, IReadOnlyList<string> keys, ObjectiveSpec objective)
    {
        var completed = trials.Where(t => t.State == TrialState.Completed).ToList();
        var flips = trials.Select(t => EpochFlips.Total(t.Epochs)).Where(double.IsFinite).ToList();
        var perEpoch = trials.Where(t => t.Epochs.Count > 0).Select(t => EpochFlips.Total(t.Epochs) / t.Epochs.Count).Where(double.IsFinite).ToList();
        var clipped = trials.Select(t => t.Last?.Get(MetricNames.Quant.ClippedFraction) ?? double.NaN).Where(double.IsFinite).ToList();
        var test = TestMetricOf(objective);
        var finished = completed.Where(t => double.IsFinite(t.Objective(objective))).ToList();
        return new TrialGroup(
            keys.Select(k => Value(trials[0], k)).ToList(),
            trials,
            completed.Count,
            SeedStats.Of(completed.Select(t => t.Objective(objective))),
            trials.Sum(t => t.Resumes.Count),
            flips.Count == 0 ? double.NaN : flips.Sum() / flips.Count)
        {
            Test = test is null ? SeedStats.Empty : SeedStats.Of(finished.Select(t => t.Last!.Get(test))),
            Restarts = trials.Sum(t => t.Restarts),
            FlipsPerEpoch = perEpoch.Count == 0 ? double.NaN : perEpoch.Average(),
            Clipped = clipped.Count == 0 ? double.NaN : clipped.Average(),
        };
    }

    private static string Value(TrialRecord t, string key)
    {
        foreach (var p in t.Config.Parameters)
            if (p.Key == key) return ResultTable.Format(p.Value);
        return "";
    }

    private static string F4(double v) => double.IsFinite(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "";

    private static string R(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";
}
