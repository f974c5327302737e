using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Reporting;
using Sweeper.Core.Sweep;

namespace Sweeper.Cli.Output;

/// <summary>
/// A run directory's snapshot (<see cref="RunSnapshot"/>) as <c>sweeper status</c> and <c>sweeper ls</c> show it: text
/// for people, and JSON for scripts with stable snake_case field names (documented in the README).
/// </summary>
public static class RunStatusView
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The state as one word: <c>running</c>, <c>finished</c> or <c>interrupted</c>.</summary>
    public static string Word(RunState state) => state.ToString().ToLowerInvariant();

    /// <summary>The JSON text of <paramref name="node"/>: indented, or on one line (one document per refresh of <c>--watch</c>).</summary>
    public static string Json(JsonNode node, bool oneLine) => node.ToJsonString(oneLine ? Compact : Indented);

    public static void Write(IAnsiConsole console, RunSnapshot s)
    {
        var p = s.Progress;
        var objective = p.Result.Objective;
        console.MarkupLine($"sweep [bold]{Markup.Escape(s.Name)}[/]: {StateText(s)}");
        console.MarkupLine($"run directory: {Markup.Escape(s.Run.Path)}");
        var timing = $"started {Time(s.StartedAt)}; elapsed {Clock(s.Elapsed)}";
        if (s.State == RunState.Running) timing += $"; ETA {(s.Eta is { } eta ? Clock(eta) : "unknown")}";
        else if (s.EndedAt is { } ended) timing += $"; {(s.State == RunState.Finished ? "ended" : "last recorded event")} {Time(ended)}";
        console.MarkupLine(Markup.Escape(timing));
        var states = string.Join(", ", p.ByState.Select(kv => $"{kv.Value} {kv.Key.ToString().ToLowerInvariant()}"));
        console.MarkupLine(Markup.Escape($"trials: {p.Finished}/{Total(p)} finished ({states}); {s.Concurrency} at once"));
        console.MarkupLine(p.Best is { } best
            ? Markup.Escape($"best: {best.Id} {objective.Metric}={Metric(best.Objective(objective))} ({objective.Mode.ToString().ToLowerInvariant()}) after {best.Epochs.Count} epoch(s); {ProgressView.Params(best)}")
            : Markup.Escape($"best: none yet (no trial completed with a {objective.Metric})"));
        console.MarkupLine(Markup.Escape($"restarts: {p.Restarts} for instability, {p.Crashes} crash(es), {p.Resumes} resume(s) on another worker or after a coordinator restart"));
        if (s.StopReason is { } why) console.MarkupLine(Markup.Escape($"stopped early: {why}"));
        foreach (var note in s.Notes) console.MarkupLine($"[yellow]note[/]: {Markup.Escape(note)}");
        if (s.State == RunState.Interrupted)
            console.MarkupLine(Markup.Escape($"continue it with: sweeper resume {s.Run.Path}"));

        var running = p.Running;
        if (running.Count == 0) return;
        var title = s.State == RunState.Running ? $"running trials ({running.Count})" : $"trials cut off while running ({running.Count}; sweeper resume continues them)";
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title));
        foreach (var c in new[] { "trial", "epoch", "worker", "attempt", "restarts", "crashes", objective.Metric, "parameters" })
            table.AddColumn(new TableColumn(Markup.Escape(c)));
        foreach (var t in running)
            table.AddRow(t.Id.ToString(), $"{EpochOf(t)}/{t.Config.Trainable.Epochs}", Markup.Escape(t.Worker ?? "-"),
                t.Attempt.ToString(CultureInfo.InvariantCulture), t.Restarts.ToString(CultureInfo.InvariantCulture),
                t.Crashes.Count.ToString(CultureInfo.InvariantCulture), Metric(t.Objective(objective)), Markup.Escape(ProgressView.Params(t)));
        console.Write(table);
    }

    /// <summary>The JSON document of <c>sweeper status --json</c>.</summary>
    public static JsonObject Json(RunSnapshot s)
    {
        var p = s.Progress;
        var objective = p.Result.Objective;
        var trials = new JsonObject { ["total"] = p.Total, ["created"] = p.Result.Trials.Count, ["finished"] = p.Finished };
        foreach (var (state, count) in p.ByState) trials[state.ToString().ToLowerInvariant()] = count;
        return new JsonObject
        {
            ["sweep"] = s.Name,
            ["run_dir"] = s.Run.Path,
            ["state"] = Word(s.State),
            ["pid"] = s.Holder?.Pid,
            ["host"] = s.Holder?.Host,
            ["stop_reason"] = s.StopReason,
            ["objective"] = new JsonObject { ["metric"] = objective.Metric, ["mode"] = objective.Mode.ToString().ToLowerInvariant() },
            ["started_at"] = Iso(s.StartedAt),
            ["ended_at"] = s.EndedAt is { } e ? Iso(e) : null,
            ["taken_at"] = Iso(s.TakenAt),
            ["elapsed_s"] = Seconds(s.Elapsed),
            ["eta_s"] = s.Eta is { } eta ? Seconds(eta) : null,
            ["concurrency"] = s.Concurrency,
            ["trials"] = trials,
            ["best"] = p.Best is { } best ? new JsonObject
            {
                ["trial"] = best.Id.ToString(),
                ["value"] = Number(best.Objective(objective)),
                ["epochs"] = best.Epochs.Count,
                ["parameters"] = Parameters(best),
            } : null,
            ["running"] = new JsonArray(p.Running.Select(t => (JsonNode)new JsonObject
            {
                ["trial"] = t.Id.ToString(),
                ["epoch"] = EpochOf(t),
                ["epochs"] = t.Config.Trainable.Epochs,
                ["worker"] = t.Worker,
                ["attempt"] = t.Attempt,
                ["restarts"] = t.Restarts,
                ["crashes"] = t.Crashes.Count,
                ["objective"] = Number(t.Objective(objective)),
                ["started_at"] = t.StartedAt is { } at ? Iso(at) : null,
                ["parameters"] = Parameters(t),
            }).ToArray()),
            ["restarts"] = p.Restarts,
            ["crashes"] = p.Crashes,
            ["resumes"] = p.Resumes,
            ["notes"] = new JsonArray(s.Notes.Select(n => (JsonNode)JsonValue.Create(n)).ToArray()),
        };
    }

    /// <summary>One row of <c>sweeper ls</c>: a run read, or one that could not be (<paramref name="error"/>).</summary>
    public sealed record Row(string Folder, RunSnapshot? Snapshot, string? Error);

    public static void WriteRows(IAnsiConsole console, string folder, IReadOnlyList<Row> rows)
    {
        if (rows.Count == 0)
        {
            console.MarkupLine(Markup.Escape($"no run directories in {folder}"));
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"runs in {folder}"));
        foreach (var c in new[] { "name", "folder", "started", "state", "trials", "best" }) table.AddColumn(new TableColumn(c));
        foreach (var r in rows)
        {
            if (r.Snapshot is not { } s)
            {
                table.AddRow("?", Markup.Escape(r.Folder), "", "unreadable", "", Markup.Escape(r.Error ?? ""));
                continue;
            }
            var objective = s.Progress.Result.Objective;
            table.AddRow(Markup.Escape(s.Name), Markup.Escape(r.Folder), Markup.Escape(Time(s.StartedAt)), Word(s.State),
                $"{s.Progress.Finished}/{Total(s.Progress)}",
                Markup.Escape(s.Progress.Best is { } b ? $"{b.Id} {objective.Metric}={Metric(b.Objective(objective))}" : "-"));
        }
        console.Write(table);
    }

    /// <summary>The JSON document of <c>sweeper ls --json</c>.</summary>
    public static JsonObject Json(string folder, IReadOnlyList<Row> rows) => new()
    {
        ["dir"] = folder,
        ["runs"] = new JsonArray(rows.Select(r => (JsonNode)(r.Snapshot is { } s
            ? new JsonObject
            {
                ["sweep"] = s.Name,
                ["folder"] = r.Folder,
                ["run_dir"] = s.Run.Path,
                ["started_at"] = Iso(s.StartedAt),
                ["state"] = Word(s.State),
                ["finished"] = s.Progress.Finished,
                ["total"] = s.Progress.Total,
                ["best"] = s.Progress.Best is { } b ? new JsonObject
                {
                    ["trial"] = b.Id.ToString(),
                    ["metric"] = s.Progress.Result.Objective.Metric,
                    ["value"] = Number(b.Objective(s.Progress.Result.Objective)),
                } : null,
                ["error"] = null,
            }
            : new JsonObject
            {
                ["sweep"] = null, ["folder"] = r.Folder, ["run_dir"] = Path.GetFullPath(Path.Combine(folder, r.Folder)), ["started_at"] = null,
                ["state"] = null, ["finished"] = null, ["total"] = null, ["best"] = null, ["error"] = r.Error,
            })).ToArray()),
    };

    /// <summary>The last epoch a trial finished (it trains the next one while running).</summary>
    private static int EpochOf(TrialRecord t) => t.Last?.Epoch ?? 0;

    private static string Total(SweepProgress p) => p.Total?.ToString(CultureInfo.InvariantCulture) ?? "?";

    private static string StateText(RunSnapshot s) => s.State switch
    {
        RunState.Running => $"running ({Markup.Escape(s.Holder?.ToString() ?? "pid unknown")})",
        RunState.Finished => s.StopReason is null ? "finished" : "finished (stopped early)",
        _ => s.StopReason is { } why ? $"interrupted ({Markup.Escape(why)})" : "interrupted (no process runs it)",
    };

    private static JsonObject Parameters(TrialRecord t) =>
        new(t.Config.Parameters.Select(kv => new KeyValuePair<string, JsonNode?>(kv.Key, ReportWriter.Scalar(kv.Value))));

    private static JsonNode? Number(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;

    private static string Metric(double value) => double.IsFinite(value) ? value.ToString("F4", CultureInfo.InvariantCulture) : "-";

    private static string Iso(DateTimeOffset t) => t.ToString("O", CultureInfo.InvariantCulture);

    private static double Seconds(TimeSpan d) => Math.Round(d.TotalSeconds, 3);

    private static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC";

    /// <summary><c>12s</c>, <c>3m40s</c>, <c>2h05m</c>: a person's reading of a wall time.</summary>
    public static string Clock(TimeSpan d)
    {
        if (d < TimeSpan.Zero) d = TimeSpan.Zero;
        var s = (long)Math.Round(d.TotalSeconds);
        return s < 60 ? $"{s}s" : s < 3600 ? $"{s / 60}m{s % 60:D2}s" : $"{s / 3600}h{s / 60 % 60:D2}m";
    }
}
