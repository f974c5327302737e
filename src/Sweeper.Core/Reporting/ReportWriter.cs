using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;
using Sweeper.Core.Model;

namespace Sweeper.Core.Reporting;

/// <summary>
/// Writes <c>summary.md</c>, <c>results.csv</c>, <c>epochs.csv</c> and <c>results.json</c> of a sweep. Each file is
/// written whole or not at all. The CSV files and results.json hold every number at full precision; summary.md rounds.
/// </summary>
public static class ReportWriter
{
    public const string SummaryFile = "summary.md";
    public const string CsvFile = "results.csv";
    public const string EpochsCsvFile = "epochs.csv";
    public const string JsonFile = "results.json";

    public static void WriteAll(SweepResult result, string runDirectory) => WriteAll(result, runDirectory, GroupTable.From(result));

    /// <summary>Writes the four files; <c>summary.md</c> ends with the grouped comparison when a group pools trials (repeats).</summary>
    public static void WriteAll(SweepResult result, string runDirectory, GroupTable groups)
    {
        WriteAtomically(Path.Combine(runDirectory, SummaryFile), Markdown(result, ResultTable.From(result)) + (groups.PoolsTrials ? groups.Markdown() : ""));
        WriteAtomically(Path.Combine(runDirectory, CsvFile), Csv(ResultTable.From(result, exact: true)));
        WriteAtomically(Path.Combine(runDirectory, EpochsCsvFile), Csv(EpochTable(result)));
        WriteAtomically(Path.Combine(runDirectory, JsonFile), Json(result));
    }

    /// <summary>The fixed columns of <c>epochs.csv</c> before the swept parameters, and between them and the metrics.</summary>
    public static readonly IReadOnlyList<string> EpochLeadColumns = ["trial", "state", "attempt"];

    /// <summary>
    /// The rows of <c>epochs.csv</c>: one per trial per epoch it kept (trial order, then epoch order). Columns:
    /// <c>trial,state,attempt</c>, the swept parameters (as in results.csv), <c>epoch</c>, every metric any epoch
    /// reported (ordinal order of the names; a name that is already a column is written <c>metric:NAME</c>), and
    /// <c>duration_s</c> (the epoch's wall time). Numbers are round-trippable (<see cref="ResultTable.Exact"/>); a metric
    /// an epoch did not report is empty, a reported NaN is <c>NaN</c>. <c>attempt</c> is the attempt that trained the
    /// epoch (1, or more after restarts for instability), empty when the record has no attempts.
    /// </summary>
    public static ResultTable EpochTable(SweepResult result)
    {
        var paramKeys = GroupTable.ParameterKeys(result);
        var metricNames = result.Trials.SelectMany(t => t.Epochs).SelectMany(e => e.Metrics.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var columns = new List<string>(EpochLeadColumns);
        columns.AddRange(paramKeys);
        columns.Add("epoch");
        var taken = new HashSet<string>(columns, StringComparer.Ordinal) { "duration_s" };
        columns.AddRange(metricNames.Select(m => taken.Contains(m) ? "metric:" + m : m));
        columns.Add("duration_s");
        var rows = new List<IReadOnlyList<string>>();
        foreach (var t in result.Trials.OrderBy(t => t.Id.Index))
        {
            var parameters = paramKeys.Select(k => ResultTable.Exact(t.Config.Parameters.FirstOrDefault(p => p.Key == k).Value)).ToList();
            foreach (var e in t.Epochs)
            {
                var row = new List<string>(columns.Count)
                {
                    t.Id.ToString(),
                    t.State.ToString().ToLowerInvariant(),
                    TrialLineage.AttemptOf(t, e.Epoch)?.ToString(CultureInfo.InvariantCulture) ?? "",
                };
                row.AddRange(parameters);
                row.Add(e.Epoch.ToString(CultureInfo.InvariantCulture));
                row.AddRange(metricNames.Select(m => e.Metrics.TryGetValue(m, out var v) ? ResultTable.Exact(v) : ""));
                row.Add(ResultTable.Exact(e.Duration.TotalSeconds));
                rows.Add(row);
            }
        }
        return new ResultTable(columns, rows);
    }

    /// <summary>
    /// The table as CSV (RFC 4180 quoting). Every CSV Sweeper writes (<c>results.csv</c>, <c>groups.csv</c>) goes
    /// through here, so every cell is neutralised against formula injection: see <see cref="CsvCell"/>.
    /// </summary>
    public static string Csv(ResultTable table)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', table.Columns.Select(CsvCell)).Append('\n');
        foreach (var row in table.Rows) sb.AppendJoin(',', row.Select(CsvCell)).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// One CSV cell. A text cell that a spreadsheet would take for a formula (it begins with <c>=</c>, <c>+</c>,
    /// <c>-</c>, <c>@</c>, a tab or a carriage return; trial names, parameter values and error messages come from
    /// specs and from trainables) gets a leading single quote, as OWASP recommends; numbers such as <c>-0.5</c> or
    /// <c>-Infinity</c> stay numbers. Then cells holding a comma, quote or line break are quoted.
    /// </summary>
    public static string CsvCell(string cell)
    {
        if (cell.Length > 0 && cell[0] is '=' or '+' or '-' or '@' or '\t' or '\r'
            && !double.TryParse(cell, NumberStyles.Float & ~(NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite), CultureInfo.InvariantCulture, out _))
            cell = "'" + cell;
        return cell.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + cell.Replace("\"", "\"\"") + "\"" : cell;
    }

    public static string Markdown(SweepResult result, ResultTable table)
    {
        var sb = new StringBuilder();
        sb.Append("# Sweep ").Append(result.Name).Append("\n\n");
        var best = result.Best;
        sb.Append(CultureInfo.InvariantCulture, $"- objective: {result.Objective.Mode.ToString().ToLowerInvariant()} {result.Objective.Metric}\n");
        sb.Append(CultureInfo.InvariantCulture, $"- trials: {result.Trials.Count} ({string.Join(", ", result.Trials.GroupBy(t => t.State).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}"))})\n");
        if (best is not null)
            sb.Append(CultureInfo.InvariantCulture, $"- best: {best.Id} with {result.Objective.Metric} = {best.Objective(result.Objective):F4}\n");
        var (run, planned) = result.EpochTotals;
        if (result.StopReason is { } why) sb.Append(CultureInfo.InvariantCulture, $"- stopped early: {why}\n");
        sb.Append(CultureInfo.InvariantCulture, $"- epochs run: {run} of {planned} ({result.Trials.Count(t => t.State == TrialState.Stopped)} trial(s) stopped early)\n");
        sb.Append(CultureInfo.InvariantCulture, $"- wall time: {(result.FinishedAt - result.StartedAt).TotalSeconds:F1} s\n\n");
        sb.Append("| ").AppendJoin(" | ", table.Columns.Select(Escape)).Append(" |\n");
        sb.Append('|').AppendJoin('|', table.Columns.Select(_ => " --- ")).Append("|\n");
        foreach (var row in table.Rows) sb.Append("| ").AppendJoin(" | ", row.Select(Escape)).Append(" |\n");
        return sb.ToString();

        static string Escape(string cell) => cell.Replace("|", "\\|");
    }

    public static string Json(SweepResult result)
    {
        var trials = new JsonArray();
        foreach (var t in result.Trials)
        {
            var parameters = new JsonObject();
            foreach (var (k, v) in t.Config.Parameters) parameters[k] = Scalar(v);
            var epochs = new JsonArray();
            foreach (var e in t.Epochs)
            {
                var metrics = new JsonObject();
                foreach (var (k, v) in e.Metrics) metrics[k] = double.IsFinite(v) ? v : null;
                epochs.Add(new JsonObject { ["epoch"] = e.Epoch, ["duration_s"] = e.Duration.TotalSeconds, ["metrics"] = metrics });
            }
            var objective = t.Objective(result.Objective);
            trials.Add(new JsonObject
            {
                ["trial"] = t.Id.ToString(),
                ["state"] = t.State.ToString().ToLowerInvariant(),
                ["seed"] = t.Config.Seed,
                ["parameters"] = parameters,
                ["objective"] = double.IsFinite(objective) ? objective : null,
                ["worker"] = t.Worker,
                ["started_at"] = t.StartedAt?.ToString("O", CultureInfo.InvariantCulture),
                ["finished_at"] = t.FinishedAt?.ToString("O", CultureInfo.InvariantCulture),
                ["reason"] = t.Reason,
                ["interrupted"] = t.Interrupted,
                ["rung"] = t.Rung,
                ["config_index"] = t.Config.ConfigIndex,
                ["repeat"] = t.Config.Repeat,
                ["checkpoint"] = t.Checkpoint is null ? null : new JsonObject { ["epoch"] = t.Checkpoint.Epoch, ["path"] = t.Checkpoint.Path },
                ["resumes"] = new JsonArray(t.Resumes.Select(r => (JsonNode)new JsonObject
                {
                    ["from_epoch"] = r.FromEpoch, ["reason"] = r.Reason, ["at"] = r.At.ToString("O", CultureInfo.InvariantCulture),
                }).ToArray()),
                ["crashes"] = new JsonArray(t.Crashes.Select(c => (JsonNode)new JsonObject
                {
                    ["error"] = c.Error, ["after_epoch"] = c.AfterEpoch, ["at"] = c.At.ToString("O", CultureInfo.InvariantCulture),
                }).ToArray()),
                ["final_verdict"] = t.FinalVerdict,
                ["attempts"] = new JsonArray(t.Attempts.Select(a => (JsonNode)new JsonObject
                {
                    ["attempt"] = a.Number, ["from_epoch"] = a.FromEpoch, ["parent_checkpoint"] = a.ParentCheckpoint,
                    ["changes"] = new JsonObject(a.Changes.Select(c => new KeyValuePair<string, JsonNode?>(c.Key, Scalar(c.Value)))),
                    ["verdict"] = a.Verdict?.Word(), ["reason"] = a.Reason, ["step"] = a.Step, ["last_epoch"] = a.LastEpoch, ["flips"] = a.Flips,
                    ["rerun"] = a.Rerun, ["outcome"] = a.Outcome,
                }).ToArray()),
                ["epochs"] = epochs,
            });
        }
        var doc = new JsonObject
        {
            ["sweep"] = result.Name,
            ["objective"] = new JsonObject { ["metric"] = result.Objective.Metric, ["mode"] = result.Objective.Mode.ToString().ToLowerInvariant() },
            ["started_at"] = result.StartedAt.ToString("O", CultureInfo.InvariantCulture),
            ["finished_at"] = result.FinishedAt.ToString("O", CultureInfo.InvariantCulture),
            ["best_trial"] = result.Best?.Id.ToString(),
            ["stop_reason"] = result.StopReason,
            ["epochs_run"] = result.EpochTotals.Run,
            ["epochs_planned"] = result.EpochTotals.Planned,
            ["trials"] = trials,
        };
        return doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }

    /// <summary>A parameter value as JSON: strings, booleans and numbers as themselves, a non-finite number as its text.</summary>
    public static JsonNode? Scalar(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        long l => JsonValue.Create(l),
        int i => JsonValue.Create(i),
        double d => double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(d.ToString(CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture)),
    };

    /// <summary>
    /// <see cref="AtomicFile.WriteText"/>: a reader, or a process killed mid-write, sees the old file or the new one,
    /// never half of one; the temporary file is this write's own (<c>sweeper report</c> may write the same files while
    /// the sweep's own process writes them).
    /// </summary>
    public static void WriteAtomically(string path, string content) => AtomicFile.WriteText(path, content);
}
