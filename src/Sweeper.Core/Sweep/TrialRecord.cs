using System.Text.Json;
using System.Text.Json.Serialization;
using Sweeper.Core.Model;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Sweep;

/// <summary>What is known of one trial: its config, state, every epoch's metrics, where and when it ran.</summary>
public sealed record TrialRecord
{
    /// <summary>How the reason of a trial stopped by stability supervision (its restart policy gave up) begins.</summary>
    public const string StabilityReasonPrefix = "stability: ";

    public required TrialConfig Config { get; init; }
    public TrialState State { get; init; } = TrialState.Pending;
    public IReadOnlyList<EpochResult> Epochs { get; init; } = [];
    public string? Worker { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>Why the trial failed or was stopped.</summary>
    public string? Reason { get; init; }
    /// <summary>The scheduler's rung at which the trial was stopped, if a scheduler stopped it.</summary>
    public int? Rung { get; init; }
    /// <summary>The newest checkpoint of the trial, if it saved one.</summary>
    public CheckpointRef? Checkpoint { get; init; }
    /// <summary>Each time the trial was queued again and continued elsewhere.</summary>
    public IReadOnlyList<TrialResume> Resumes { get; init; } = [];
    /// <summary>Each time the trainable threw and Akka supervision restarted it.</summary>
    public IReadOnlyList<TrialCrash> Crashes { get; init; } = [];
    /// <summary>The attempts (lineage): one, plus one per restart for instability and one per rerun (<see cref="TrialAttempt.Rerun"/>).</summary>
    public IReadOnlyList<TrialAttempt> Attempts { get; init; } = [];
    /// <summary>
    /// The number of the trial's newest assignment to a worker (0: never assigned). Journaled, so a coordinator started
    /// again continues the count and never takes an event of an earlier assignment for a current one.
    /// </summary>
    public int Assignment { get; init; }
    /// <summary>
    /// Stopped because the sweep was interrupted (<c>sweeper stop</c>, Ctrl+C, SIGTERM), not by a decision about the trial
    /// (scheduler, stability, the sweep's target or time budget): <c>sweeper resume</c> queues it again, from its newest checkpoint.
    /// </summary>
    public bool Interrupted { get; init; }
    /// <summary>The newest checkpoint saved while the monitor had been healthy for the whole epoch before it.</summary>
    public CheckpointRef? HealthyCheckpoint { get; init; }
    /// <summary>healthy, or the verdict that ended the trial's last attempt.</summary>
    [JsonIgnore] public string FinalVerdict => Attempts.Count > 0 && Attempts[^1].Verdict is { } v ? v.Word() : StabilityKind.Healthy.Word();

    /// <summary>Restarts for instability: the attempts after the first that are not reruns.</summary>
    [JsonIgnore] public int Restarts => Attempts.Count(a => a.Number > 1 && !a.Rerun);

    /// <summary>The number of the trial's current (or last) attempt: 1, and one more per restart for instability or rerun.</summary>
    [JsonIgnore] public int Attempt => Attempts.Count > 0 ? Attempts[^1].Number : 1;

    [JsonIgnore] public TrialId Id => Config.Id;
    [JsonIgnore] public EpochResult? Last => Epochs.Count > 0 ? Epochs[^1] : null;

    /// <summary>The objective metric of the last epoch (NaN when none ran).</summary>
    public double Objective(ObjectiveSpec objective) => Last?.Get(objective.Metric) ?? double.NaN;

    [JsonIgnore] public TimeSpan? Duration => StartedAt is { } s && FinishedAt is { } f ? f - s : null;

    /// <param name="rerun">The move starts the trial again from scratch as a new attempt (<see cref="ResumePlan"/>).</param>
    public TrialRecord MoveTo(TrialState next, bool rerun = false)
    {
        if (!TrialStateMachine.CanMove(State, next, Interrupted, rerun))
            throw new InvalidOperationException($"trial {Id}: cannot move from {State} to {next}");
        return this with { State = next };
    }
}

/// <summary>The outcome of a sweep: every trial once, in trial order.</summary>
public sealed record SweepResult(string Name, ObjectiveSpec Objective, IReadOnlyList<TrialRecord> Trials, DateTimeOffset StartedAt, DateTimeOffset FinishedAt)
{
    /// <summary>Why the sweep ended before its trials ran out (target reached, time budget, cancelled), if it did.</summary>
    public string? StopReason { get; init; }

    /// <summary>
    /// Completed trials best first by the objective, then unfinished ones (failed, stopped) by their last value,
    /// then those without a value; ties in trial order.
    /// </summary>
    public IReadOnlyList<TrialRecord> Ranked() =>
        Trials.OrderBy(t => double.IsNaN(t.Objective(Objective)) ? 2 : t.State == TrialState.Completed ? 0 : 1)
              .ThenBy(t => -Objective.Score(t.Objective(Objective)))
              .ThenBy(t => t.Id.Index)
              .ToList();

    /// <summary>Epochs trained in all (a resumed trial counts only the epochs it kept), and epochs the trials were set to train.</summary>
    [JsonIgnore] public (int Run, int Planned) EpochTotals => (Trials.Sum(t => t.Epochs.Count), Trials.Sum(t => t.Config.Trainable.Epochs));

    /// <summary>The best completed trial, if any completed with a value.</summary>
    [JsonIgnore] public TrialRecord? Best => Ranked().FirstOrDefault(t => t.State == TrialState.Completed && !double.IsNaN(t.Objective(Objective)));
}

/// <summary>A trial that was queued again (its worker went away) and continued from a checkpoint (epoch 0: from scratch).</summary>
public sealed record TrialResume(int FromEpoch, string Reason, DateTimeOffset At);

/// <summary>An exception in the trainable: the trial actor was restarted by its supervisor (with backoff) from its newest checkpoint.</summary>
public sealed record TrialCrash(string Error, int AfterEpoch, DateTimeOffset At);

/// <summary>
/// One attempt of a trial: attempt 1 is the first run; each restart for instability starts a new one from a checkpoint
/// (or the start) with the declared changes applied cumulatively; a rerun (<c>sweeper resume --rerun-failed</c>) starts
/// one from scratch with the trial's original config.
/// </summary>
public sealed record TrialAttempt
{
    public required int Number { get; init; }
    /// <summary>The epoch it started after (0: from scratch).</summary>
    public int FromEpoch { get; init; }
    public string? ParentCheckpoint { get; init; }
    /// <summary>The values of the keys changed for this attempt (cumulative over restarts).</summary>
    public IReadOnlyList<KeyValuePair<string, object>> Changes { get; init; } = [];
    public DateTimeOffset StartedAt { get; init; }
    /// <summary>What ended it: a verdict kind (diverged, oscillating, drifting), or null while running or when it finished.</summary>
    [JsonConverter(typeof(StabilityKindWordConverter))]
    public StabilityKind? Verdict { get; init; }
    public string? Reason { get; init; }
    /// <summary>The training step at which the verdict was reached.</summary>
    public long? Step { get; init; }
    public int LastEpoch { get; init; }
    /// <summary>Exponent flips counted over this attempt's epochs (quant.flips_epoch).</summary>
    public long Flips { get; init; }
    /// <summary>
    /// A rerun of a trial that had failed or been stopped by stability supervision: from epoch 0 with the original config;
    /// the restart policy counts this attempt's restarts afresh (see <see cref="TrialLineage.SinceRerun"/>).
    /// </summary>
    public bool Rerun { get; init; }
    /// <summary>How the trial ended after this attempt when a later one reran it (e.g. <c>failed: out of memory</c>); null otherwise.</summary>
    public string? Outcome { get; init; }
}

/// <summary>Writes a verdict as its word (<c>diverged</c>, ...), as journals and results.json always held it.</summary>
public sealed class StabilityKindWordConverter : JsonConverter<StabilityKind?>
{
    public override bool HandleNull => true;

    public override StabilityKind? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? null
            : StabilityKinds.TryParse(reader.GetString(), out var kind) ? kind
            : throw new JsonException($"'{reader.GetString()}' is not a stability verdict (healthy, oscillating, drifting, diverged)");

    public override void Write(Utf8JsonWriter writer, StabilityKind? value, JsonSerializerOptions options)
    {
        if (value is { } kind) writer.WriteStringValue(kind.Word());
        else writer.WriteNullValue();
    }
}
