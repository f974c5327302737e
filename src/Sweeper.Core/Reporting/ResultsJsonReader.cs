using System.Globalization;
using System.Text.Json;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Reporting;

/// <summary>The sweep-level fields of a <c>results.json</c>.</summary>
public sealed record ResultsJsonHeader(string Name, ObjectiveSpec Objective, DateTimeOffset StartedAt, DateTimeOffset FinishedAt);

/// <summary>
/// Reads back a <c>results.json</c> written by <see cref="ReportWriter.Json"/>, so that writing the result again gives
/// the same bytes. The file does not hold the trainable settings of a trial; <c>trainable</c> rebuilds them (from the
/// run's spec and the trial's parameters). Malformed files throw <see cref="InvalidDataException"/>.
/// </summary>
public static class ResultsJsonReader
{
    public static ResultsJsonHeader ReadHeader(string json)
    {
        using var doc = Parse(json);
        return Header(doc.RootElement);
    }

    public static SweepResult Read(string json, Func<IReadOnlyList<KeyValuePair<string, object>>, TrainableSpec> trainable)
    {
        using var doc = Parse(json);
        var root = doc.RootElement;
        var header = Header(root);
        var trials = new List<TrialRecord>();
        foreach (var t in Property(root, "trials").EnumerateArray())
        {
            var id = ParseId(String(t, "trial") ?? throw Bad("a trial without an id"));
            var parameters = new List<KeyValuePair<string, object>>();
            foreach (var p in Property(t, "parameters").EnumerateObject())
                parameters.Add(new(p.Name, Scalar(p.Value)!));
            var epochs = new List<EpochResult>();
            foreach (var e in Property(t, "epochs").EnumerateArray())
            {
                var metrics = new Dictionary<string, double>();
                foreach (var m in Property(e, "metrics").EnumerateObject())
                    metrics[m.Name] = m.Value.ValueKind == JsonValueKind.Number ? m.Value.GetDouble() : double.NaN;
                epochs.Add(new EpochResult(Property(e, "epoch").GetInt32(), metrics, Seconds(Property(e, "duration_s").GetDouble())));
            }
            var checkpoint = t.TryGetProperty("checkpoint", out var c) && c.ValueKind == JsonValueKind.Object
                ? new CheckpointRef(Property(c, "epoch").GetInt32(), String(c, "path") ?? "")
                : null;
            var resumes = t.TryGetProperty("resumes", out var rs) && rs.ValueKind == JsonValueKind.Array
                ? rs.EnumerateArray().Select(r => new TrialResume(Property(r, "from_epoch").GetInt32(), String(r, "reason") ?? "", Time(String(r, "at"))!.Value)).ToList()
                : [];
            var crashes = t.TryGetProperty("crashes", out var cs) && cs.ValueKind == JsonValueKind.Array
                ? cs.EnumerateArray().Select(x => new TrialCrash(String(x, "error") ?? "", Int(x, "after_epoch") ?? 0, Time(String(x, "at"))!.Value)).ToList()
                : [];
            var attempts = t.TryGetProperty("attempts", out var ats) && ats.ValueKind == JsonValueKind.Array
                ? ats.EnumerateArray().Select(a => new TrialAttempt
                {
                    Number = Int(a, "attempt") ?? 1,
                    FromEpoch = Int(a, "from_epoch") ?? 0,
                    ParentCheckpoint = String(a, "parent_checkpoint"),
                    Changes = a.TryGetProperty("changes", out var ch) && ch.ValueKind == JsonValueKind.Object
                        ? ch.EnumerateObject().Select(p => new KeyValuePair<string, object>(p.Name, Scalar(p.Value)!)).ToList() : [],
                    Verdict = String(a, "verdict") is { } verdict ? StabilityKinds.Parse(verdict) : null,
                    Reason = String(a, "reason"),
                    Step = a.TryGetProperty("step", out var st) && st.ValueKind == JsonValueKind.Number ? st.GetInt64() : null,
                    LastEpoch = Int(a, "last_epoch") ?? 0,
                    Flips = a.TryGetProperty("flips", out var fl) && fl.ValueKind == JsonValueKind.Number ? fl.GetInt64() : 0,
                    Rerun = a.TryGetProperty("rerun", out var rr) && rr.ValueKind == JsonValueKind.True,
                    Outcome = String(a, "outcome"),
                }).ToList()
                : [];
            trials.Add(new TrialRecord
            {
                Crashes = crashes,
                Attempts = attempts,
                Config = new TrialConfig
                {
                    Id = id,
                    Seed = Property(t, "seed").GetInt64(),
                    Parameters = parameters,
                    Trainable = trainable(parameters),
                    ConfigIndex = Int(t, "config_index") ?? 0,
                    Repeat = Int(t, "repeat") ?? 0,
                },
                State = Enum.TryParse<TrialState>(String(t, "state"), ignoreCase: true, out var state) ? state : throw Bad($"trial {id}: unknown state '{String(t, "state")}'"),
                Epochs = epochs,
                Worker = String(t, "worker"),
                StartedAt = Time(String(t, "started_at")),
                FinishedAt = Time(String(t, "finished_at")),
                Reason = String(t, "reason"),
                Interrupted = t.TryGetProperty("interrupted", out var interrupted) && interrupted.ValueKind == JsonValueKind.True,
                Rung = Int(t, "rung"),
                Checkpoint = checkpoint,
                Resumes = resumes,
            });
        }
        return new SweepResult(header.Name, header.Objective, trials, header.StartedAt, header.FinishedAt) { StopReason = String(root, "stop_reason") };
    }

    /// <summary>An exact duration from seconds written as <c>TimeSpan.TotalSeconds</c> (to the nearest tick, where
    /// <see cref="TimeSpan.FromSeconds(double)"/> would truncate).</summary>
    public static TimeSpan Seconds(double seconds) => TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));

    /// <summary>An exact duration from milliseconds written as <c>TimeSpan.TotalMilliseconds</c>.</summary>
    public static TimeSpan Milliseconds(double milliseconds) => TimeSpan.FromTicks((long)Math.Round(milliseconds * TimeSpan.TicksPerMillisecond));

    private static ResultsJsonHeader Header(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Bad("expected an object at the top level");
        var objective = Property(root, "objective");
        var mode = String(objective, "mode");
        return new ResultsJsonHeader(
            String(root, "sweep") ?? throw Bad("no sweep name"),
            new ObjectiveSpec(String(objective, "metric") ?? throw Bad("no objective metric"),
                Enum.TryParse<ObjectiveMode>(mode, ignoreCase: true, out var m) ? m : throw Bad($"unknown objective mode '{mode}'")),
            Time(String(root, "started_at")) ?? throw Bad("no started_at"),
            Time(String(root, "finished_at")) ?? throw Bad("no finished_at"));
    }

    private static JsonDocument Parse(string json)
    {
        try { return JsonDocument.Parse(json); }
        catch (JsonException ex) { throw new InvalidDataException($"results.json is not valid JSON: {ex.Message}", ex); }
    }

    private static JsonElement Property(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : throw Bad($"missing '{name}'");

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int? Int(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : null;

    private static DateTimeOffset? Time(string? text) =>
        text is null ? null : DateTimeOffset.ParseExact(text, "O", CultureInfo.InvariantCulture, DateTimeStyles.None);

    private static TrialId ParseId(string text) =>
        text.Length > 1 && text[0] == 't' && int.TryParse(text.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            ? new TrialId(index)
            : throw Bad($"bad trial id '{text}'");

    /// <summary>A parameter value as the run held it: a whole number without a fraction is a long, else a double.</summary>
    private static object? Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        JsonValueKind.Number when value.TryGetInt64(out var l) && value.GetRawText().IndexOfAny(['.', 'e', 'E']) < 0 => l,
        JsonValueKind.Number => value.GetDouble(),
        _ => throw Bad($"a parameter value must be a string, number or boolean, found {value.ValueKind}"),
    };

    private static InvalidDataException Bad(string message) => new("results.json: " + message);
}
