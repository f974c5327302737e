using Sweeper.Core.Search;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Sweep;

/// <summary>What <c>sweeper resume</c> is asked to do besides continuing: rerun failed trials, add trials.</summary>
/// <param name="RerunFailed">Run failed trials and trials stopped by stability supervision again, as new attempts.</param>
/// <param name="Extend">How many trials to add beyond the sweep's limit (0: none).</param>
public sealed record ResumeRequest(bool RerunFailed = false, int Extend = 0);

/// <summary>A folder that moved: paths under <see cref="From"/> are now under <see cref="To"/> (full paths).</summary>
public sealed record PathMove(string From, string To)
{
    /// <summary><paramref name="path"/> moved, when it is under <see cref="From"/>; else as it is.</summary>
    public string Apply(string path) =>
        path.StartsWith(From.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? To.TrimEnd(Path.DirectorySeparatorChar) + path[From.TrimEnd(Path.DirectorySeparatorChar).Length..]
            : path;
}

/// <summary>A resume that cannot be done as asked (e.g. extending a grid): nothing was changed.</summary>
public sealed class ResumePlanException(string message) : Exception(message);

/// <summary>
/// How a resumed sweep starts, worked out from its journaled trials before the coordinator's <see cref="SweepState.Start"/>:
/// <list type="bullet">
/// <item><b>Relocate</b> (always): a journaled trial's settings hold the paths its spec resolved when it was created; they
/// are taken again from the spec as loaded now (against where its folder is now: a run directory moved or copied
/// with its spec's folder runs with the files next to it), and checkpoints in a moved checkpoint folder are found there
/// (<see cref="Relocated"/>).</item>
/// <item><b>Rerun</b> (<see cref="ResumeRequest.RerunFailed"/>): every trial that failed, or that stability supervision
/// stopped (its reason starts with <see cref="TrialRecord.StabilityReasonPrefix"/>; not trials stopped by the scheduler,
/// a target, a time budget or the user), is queued again as a new attempt from epoch 0 with its original config
/// (<see cref="RerunOf"/>). Its earlier attempts, crashes and resumes stay in its history; its epochs, checkpoints and
/// reason start again. As a pending trial it is not reported to the searcher, so the old failure's objective never
/// reaches it.</item>
/// <item><b>Extend</b> (<see cref="ResumeRequest.Extend"/> = N): the sweep may create N more trials than its limit (the
/// spec's, or an earlier extension's), with the ids after it. A sweep that had stopped early because its target was
/// reached or its time budget was used up gets N more trials than it created ("run N more"); the target, already
/// reached, no longer stops it (<see cref="IgnoreTarget"/>). Every extension restarts the time budget
/// (<see cref="BudgetFrom"/>): a budget that ran out while the sweep was idle would stop the new trials at once. A grid
/// has no more points: refused (<see cref="ResumePlanException"/>).</item>
/// </list>
/// Pure: the caller journals the changed records and values (<see cref="Rerun"/>, <see cref="TrialLimit"/>, ...) before
/// the coordinator starts from them.
/// </summary>
public sealed record ResumePlan
{
    /// <summary>Every journaled trial, the rerun ones as <see cref="RerunOf"/> made them: what the coordinator starts from.</summary>
    public required IReadOnlyList<TrialRecord> Trials { get; init; }

    /// <summary>The trials queued again as reruns (their changed records), in trial order.</summary>
    public IReadOnlyList<TrialRecord> Rerun { get; init; } = [];

    /// <summary>The trials whose settings' paths or checkpoints moved (their changed records, reruns included), in trial order.</summary>
    public IReadOnlyList<TrialRecord> Relocated { get; init; } = [];

    /// <summary>The number of trials the sweep may create in all, when extended (null: unchanged).</summary>
    public long? TrialLimit { get; init; }

    /// <summary>The first id the extension adds (null: not extended).</summary>
    public int? FirstNewTrial { get; init; }

    /// <summary>When the time budget (<c>stop.max_minutes</c>) counts from, when this resume restarts it (null: unchanged).</summary>
    public DateTimeOffset? BudgetFrom { get; init; }

    /// <summary>The earlier stop reason the extension goes beyond (target reached, budget used up), or null.</summary>
    public string? EndsStop { get; init; }

    /// <summary>Set when the extended sweep had stopped because its target was reached: the target no longer stops it.</summary>
    public bool IgnoreTarget { get; init; }

    /// <summary>Whether <paramref name="trial"/> is rerun by <c>--rerun-failed</c>: failed, or stopped by stability supervision.</summary>
    public static bool Qualifies(TrialRecord trial) =>
        trial.State == TrialState.Failed
        || (trial.State == TrialState.Stopped && trial.Reason?.StartsWith(TrialRecord.StabilityReasonPrefix, StringComparison.Ordinal) == true);

    /// <summary>
    /// <paramref name="trial"/> (a journaled record: its config is the original one) queued again as a new attempt from
    /// scratch at <paramref name="now"/>: the attempt it ended with records how (<see cref="TrialAttempt.Outcome"/>); the
    /// new one is a <see cref="TrialAttempt.Rerun"/> without changes, so it runs the original config.
    /// </summary>
    public static TrialRecord RerunOf(TrialRecord trial, DateTimeOffset now)
    {
        if (!Qualifies(trial)) throw new ArgumentException($"trial {trial.Id} is {trial.State} ({trial.Reason}): only failed trials and those stopped by stability supervision are rerun", nameof(trial));
        var attempts = trial.Attempts.Count == 0 ? [new TrialAttempt { Number = 1, StartedAt = trial.StartedAt ?? now }] : trial.Attempts.ToList();
        var state = trial.State.ToString().ToLowerInvariant();
        attempts[^1] = attempts[^1] with { Outcome = trial.Reason is { } reason ? $"{state}: {reason}" : state };
        attempts.Add(new TrialAttempt
        {
            Number = attempts.Count + 1,
            StartedAt = now,
            Rerun = true,
            Reason = (trial.State == TrialState.Failed ? "rerun of failed trial" : "rerun of trial stopped by stability supervision")
                + ", from scratch with its original config",
        });
        return trial.MoveTo(TrialState.Pending, rerun: true) with
        {
            Attempts = attempts,
            Epochs = [],
            Worker = null,
            StartedAt = null,
            FinishedAt = null,
            Reason = null,
            Rung = null,
            Checkpoint = null,
            HealthyCheckpoint = null,
        };
    }

    /// <param name="journaled">The trials as the journal holds them.</param>
    /// <param name="trialLimit">The sweep's trial limit so far: the journal's (an earlier extension) or the spec's (<see cref="Trials.ITrialSource.Total"/>).</param>
    /// <param name="stopReason">Why the sweep stopped early, as journaled (null: it did not).</param>
    /// <param name="checkpoints">The checkpoint folder, when it moved (a <c>checkpoint.dir</c> relative to a moved spec folder).</param>
    public static ResumePlan Create(SweepSpec spec, IReadOnlyList<TrialRecord> journaled, ResumeRequest request, long? trialLimit, string? stopReason,
        DateTimeOffset now, PathMove? checkpoints = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(request.Extend);
        var relocated = journaled.Select(t => Relocate(spec, t, checkpoints)).ToList();
        var moved = relocated.Where((t, i) => !ReferenceEquals(t, journaled[i])).Select(t => t.Id).ToHashSet();
        var plan = new ResumePlan { Trials = relocated };
        if (request.Extend > 0) plan = Extended(spec, plan, request.Extend, trialLimit, stopReason, now);
        var rerun = request.RerunFailed ? relocated.Where(Qualifies).OrderBy(t => t.Id.Index).Select(t => RerunOf(t, now)).ToList() : [];
        var byId = rerun.ToDictionary(t => t.Id);
        var trials = relocated.Select(t => byId.GetValueOrDefault(t.Id) ?? t).ToList();
        return plan with { Trials = trials, Rerun = rerun, Relocated = trials.Where(t => moved.Contains(t.Id)).ToList() };
    }

    /// <summary>
    /// <paramref name="trial"/> with the paths of its settings as <paramref name="spec"/> (loaded where its folder is now)
    /// gives them for its parameters, and its checkpoints moved with <paramref name="checkpoints"/>; the same instance when nothing moved.
    /// </summary>
    public static TrialRecord Relocate(SweepSpec spec, TrialRecord trial, PathMove? checkpoints = null)
    {
        var trainable = SpecLoader.WithPathsOf(trial.Config.Trainable, SpecLoader.Apply(spec, trial.Config.Parameters).Trainable);
        CheckpointRef? Moved(CheckpointRef? c) => c is null || checkpoints is null ? c : checkpoints.Apply(c.Path) is var p && p != c.Path ? c with { Path = p } : c;
        var checkpoint = Moved(trial.Checkpoint);
        var healthy = Moved(trial.HealthyCheckpoint);
        var attempts = trial.Attempts.Select(a => a.ParentCheckpoint is { } p && checkpoints?.Apply(p) is { } q && q != p ? a with { ParentCheckpoint = q } : a).ToList();
        if (ReferenceEquals(trainable, trial.Config.Trainable) && ReferenceEquals(checkpoint, trial.Checkpoint) && ReferenceEquals(healthy, trial.HealthyCheckpoint)
            && attempts.SequenceEqual(trial.Attempts, ReferenceEqualityComparer.Instance))
            return trial;
        return trial with { Config = trial.Config with { Trainable = trainable }, Checkpoint = checkpoint, HealthyCheckpoint = healthy, Attempts = attempts };
    }

    private static ResumePlan Extended(SweepSpec spec, ResumePlan plan, int extend, long? trialLimit, string? stopReason, DateTimeOffset now)
    {
        if (Searchers.TryParse(spec.Search.Algorithm, out var algorithm) && algorithm == SearchAlgorithm.Grid)
            throw new ResumePlanException($"--extend: sweep '{spec.Name}' searches a grid, which has no more points to propose once its {trialLimit} trial(s) are planned; " +
                "extending works with search.algorithm random or tpe (or start a new sweep with a larger grid)");
        if (trialLimit is not { } limit)
            throw new ResumePlanException($"--extend: sweep '{spec.Name}' has no trial limit to extend (it runs until it is stopped)");
        int created = plan.Trials.Count;
        bool target = SweepStops.IsTargetReached(spec, stopReason);
        bool stoppedEarly = target || SweepStops.IsBudgetUsedUp(spec, stopReason);
        long from = stoppedEarly ? created : Math.Max(limit, created);
        return plan with
        {
            TrialLimit = from + extend,
            FirstNewTrial = (int)from + 1,
            BudgetFrom = spec.Stop.MaxMinutes is null ? null : now,
            EndsStop = stoppedEarly ? stopReason : null,
            IgnoreTarget = target,
        };
    }
}
