using Sweeper.Core.Model;
using Sweeper.Core.Scheduling;
using Sweeper.Core.Spec;
using Sweeper.Core.Stability;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Sweep;

/// <summary>
/// Everything a sweep's coordinator decides, without an actor, a journal or a clock of its own: given an event (a
/// worker joined or left, a trial reported, a timer fired, a stop was asked for) it updates the trials and returns the
/// effects its host must carry out, in order (<see cref="SweepEffect"/>). <see cref="Change"/> is the one place a
/// trial's record changes; it counts the finished trials.
/// <para>
/// Events of an older assignment of a trial (a worker that was given up on, a trial restarted meanwhile) are ignored:
/// every event names the assignment it belongs to. Assignment numbers are kept with the trial (and journaled with it),
/// so a coordinator started again from a journal continues them: an assignment from before it started is never current.
/// An assignment that does not start within the start timeout is queued again (<see cref="StartOverdue"/>).
/// Not thread-safe: one host calls it.
/// </para>
/// </summary>
public sealed partial class SweepState
{
    private readonly SweepSpec _spec;
    private readonly ITrialSource _source;
    private readonly ITrialScheduler _scheduler;
    private readonly RestartPolicy _restartPolicy;
    private readonly Func<DateTimeOffset> _clock;
    private readonly TimeSpan _startTimeout;
    private readonly Dictionary<TrialId, TrialRecord> _trials = new();
    private readonly Dictionary<TrialId, int> _assignment = new();
    private readonly Dictionary<TrialId, TrainableSpec> _originalTrainable = new();
    private readonly HashSet<TrialId> _unstarted = new(); // assigned, no TrialStarted yet for the current assignment
    private readonly LinkedList<TrialId> _pending = new();
    private readonly MetricSets _metricSets = new();
    private readonly Dictionary<WorkerId, Worker> _workers = new();
    private List<SweepEffect> _effects = new();
    private int _terminal;
    private int _nextIndex;
    private bool _exhausted;       // no more trials will be created (the source ran out, or the sweep is stopping)
    private string? _stopReason;

    /// <summary>How long an assignment may take to start (its trial actor reports <see cref="TrialStarted"/>) by default.</summary>
    public static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(60);

    /// <param name="startTimeout">How long an assignment may take to start before the trial is queued again (default <see cref="DefaultStartTimeout"/>).</param>
    public SweepState(SweepSpec spec, ITrialSource source, Func<DateTimeOffset>? clock = null, TimeSpan? startTimeout = null)
    {
        _startTimeout = startTimeout ?? DefaultStartTimeout;
        _spec = spec;
        _source = source;
        _scheduler = Schedulers.Create(spec);
        _restartPolicy = new RestartPolicy(spec.Stability.Policy);
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
        StartedAt = _clock();
    }

    public DateTimeOffset StartedAt { get; private set; }

    /// <summary>The sweep's outcome, once every trial is finished.</summary>
    public SweepResult? Completed { get; private set; }

    public TrialRecord this[TrialId id] => _trials[id];

    public IEnumerable<TrialRecord> Trials => _trials.Values.OrderBy(t => t.Id.Index);

    public int Created => _trials.Count;

    public int Finished => _terminal;

    public int Running => _workers.Values.Sum(w => w.Running.Count);

    public long? Total => _source.Total;

    /// <summary>The trials as they are now, as a sweep that ended for <paramref name="reason"/> (a sweep that failed).</summary>
    public SweepResult SoFar(string reason) =>
        new(_spec.Name, _spec.Objective, Trials.ToList(), StartedAt, _clock()) { StopReason = reason };

    /// <summary>
    /// Starts the sweep: from nothing, or from the trials a journal kept (<paramref name="journaled"/>, with the time the
    /// sweep first started). Trials found running were interrupted: they are queued again, to continue from their
    /// newest checkpoint. The searcher and the scheduler are fed the journaled results again.
    /// </summary>
    public IReadOnlyList<SweepEffect> Start(IReadOnlyList<TrialRecord>? journaled = null, DateTimeOffset? startedAt = null)
    {
        if (startedAt is { } s) StartedAt = s;
        var start = (journaled ?? []).Select(WithAttemptChanges).ToList();
        foreach (var t in start)
        {
            var trial = t;
            if (t.State == TrialState.Running)
            {
                trial = Requeue(t, "the coordinator restarted");
                Emit(new SweepEffect.EpochsDropped(t.Id, trial.Checkpoint?.Epoch ?? 0));
                Emit(new SweepEffect.TrialChanged(trial, trial));
            }
            else if (t.Interrupted) trial = Continued(t);
            _trials[trial.Id] = trial;
            _assignment[trial.Id] = trial.Assignment; // continued: an older life's assignments stay stale
            if (trial.State == TrialState.Pending) _pending.AddLast(trial.Id);
            if (trial.State.IsTerminal()) _terminal++;
        }
        _nextIndex = start.Count == 0 ? 0 : start.Max(t => t.Id.Index);
        Replay(_trials.Values.OrderBy(t => t.Id.Index).ToList());
        CompleteIfDone();
        return Drain();
    }

    public IReadOnlyList<SweepEffect> WorkerJoined(WorkerId worker, string node, int slots)
    {
        _workers.TryAdd(worker, new Worker(node, slots));
        Dispatch();
        return Drain();
    }

    /// <summary>A worker is gone (its node left or was downed): its running trials are queued again, first in line.</summary>
    public IReadOnlyList<SweepEffect> WorkerLeft(WorkerId worker)
    {
        if (!_workers.Remove(worker, out var gone)) return [];
        foreach (var id in gone.Running.OrderByDescending(i => i.Index))
        {
            var requeued = Requeue(_trials[id], $"worker {gone.Node} left the cluster");
            Emit(new SweepEffect.EpochsDropped(id, requeued.Checkpoint?.Epoch ?? 0));
            Emit(new SweepEffect.QueuedAgain(id, requeued.Resumes[^1]));
            Change(id, _ => requeued);
            _pending.AddFirst(id);
        }
        Dispatch();
        return Drain();
    }

    /// <summary>The node the workers of <paramref name="worker"/> run on, if known.</summary>
    public string? NodeOf(WorkerId worker) => _workers.TryGetValue(worker, out var w) ? w.Node : null;

    public IReadOnlyList<SweepEffect> TrialStarted(TrialId id, int assignment, string node)
    {
        if (!Current(id, assignment)) return [];
        _unstarted.Remove(id);
        Change(id, t => t with { Worker = node });
        return Drain();
    }

    /// <summary>
    /// The start timeout of an assignment is over (see <see cref="SweepEffect.AwaitStart"/>): if it still has not started
    /// (its worker lost it, or it is stuck), its worker is told to stop it and the trial is queued again, first in line.
    /// </summary>
    public IReadOnlyList<SweepEffect> StartOverdue(TrialId id, int assignment)
    {
        if (!Current(id, assignment) || !_unstarted.Remove(id)) return [];
        var reason = $"assignment {assignment} did not start within {_startTimeout.TotalSeconds:0.###} s";
        foreach (var (worker, slots) in _workers)
            if (slots.Running.Remove(id)) Emit(new SweepEffect.StopTrial(worker, id, reason));
        var requeued = Requeue(_trials[id], reason);
        Emit(new SweepEffect.EpochsDropped(id, requeued.Checkpoint?.Epoch ?? 0));
        Emit(new SweepEffect.QueuedAgain(id, requeued.Resumes[^1]));
        Change(id, _ => requeued);
        _pending.AddFirst(id);
        Dispatch();
        return Drain();
    }

    /// <summary>An epoch's result: recorded, then judged by the scheduler (which may stop the trial).</summary>
    public IReadOnlyList<SweepEffect> EpochCompleted(TrialId id, int assignment, EpochResult result)
    {
        if (!Current(id, assignment)) return [];
        // Kept for the whole sweep: the metrics as a compact set, their names shared with the trial's other epochs.
        if (result.Metrics is not MetricSet) result = result with { Metrics = _metricSets.Compact(result.Metrics) };
        Change(id, static (t, r) => t with { Epochs = WithEpoch(t.Epochs, r) }, result); // per result: no closure
        Emit(new SweepEffect.EpochRecorded(id, result));
        Judge(id, result);
        return Drain();
    }

    public IReadOnlyList<SweepEffect> CheckpointSaved(TrialId id, int assignment, CheckpointRef checkpoint, bool healthy)
    {
        if (Current(id, assignment))
            Change(id, t => t with { Checkpoint = checkpoint, HealthyCheckpoint = healthy ? checkpoint : t.HealthyCheckpoint });
        return Drain();
    }

    public IReadOnlyList<SweepEffect> TrialCrashed(TrialId id, int assignment, string error, int afterEpoch)
    {
        if (!Current(id, assignment)) return [];
        Change(id, t => t with { Crashes = [.. t.Crashes, new TrialCrash(error, afterEpoch, _clock())] });
        Emit(new SweepEffect.Crashed(id, error, afterEpoch));
        return Drain();
    }

    public IReadOnlyList<SweepEffect> TrialCompleted(TrialId id, int assignment)
    {
        if (Current(id, assignment)) Finish(id, TrialState.Completed, null);
        return Drain();
    }

    public IReadOnlyList<SweepEffect> TrialFailed(TrialId id, int assignment, string error)
    {
        if (Current(id, assignment)) Finish(id, TrialState.Failed, error);
        return Drain();
    }

    /// <summary>
    /// The domain's answer to instability, from the spec's policy: restart the trial as a new attempt (rolled back to
    /// its newest healthy checkpoint, its newest checkpoint or the start, with the declared changes applied cumulatively,
    /// after the backoff), or stop it.
    /// </summary>
    public IReadOnlyList<SweepEffect> TrialUnstable(TrialId id, int assignment, StabilityVerdict verdict, int lastEpoch, long flips)
    {
        if (!Current(id, assignment)) return [];
        var trial = _trials[id];
        var history = RestartHistory.Of(TrialLineage.SinceRerun(trial.Attempts).Where(a => a.Verdict is not null).Select(a => a.Verdict!.Value));
        var action = _restartPolicy.Decide(verdict, history, trial.HealthyCheckpoint is not null, trial.Checkpoint is not null);
        foreach (var w in _workers.Values) w.Running.Remove(id);
        var now = _clock();
        var attempts = trial.Attempts.Count == 0 ? [new TrialAttempt { Number = 1, StartedAt = trial.StartedAt ?? now }] : trial.Attempts.ToList();
        var current = attempts[^1];
        attempts[^1] = current with
        {
            Verdict = verdict.Kind, Reason = verdict.Reason, Step = verdict.Step, LastEpoch = lastEpoch,
            Flips = flips > 0 ? flips : TrialLineage.FlipsAfter(trial.Epochs, current.FromEpoch),
        };
        Emit(new SweepEffect.StabilityJudged(id, verdict.Kind, verdict.Step, action));
        if (!action.IsRestart)
        {
            Change(id, t => t.MoveTo(TrialState.Stopped) with { Attempts = attempts, FinishedAt = now, Reason = TrialRecord.StabilityReasonPrefix + action.Reason });
            Ended(id);
            return Drain();
        }

        // The new attempt: the original config with every restart's changes so far, from the chosen checkpoint.
        _originalTrainable.TryAdd(id, trial.Config.Trainable);
        var original = _originalTrainable[id];
        var changes = _restartPolicy.ParametersFor(action.History, TrainableValues.Lookup(original, trial.Config.Parameters))
            .Where(c => c.Value is not null).Select(c => new KeyValuePair<string, object>(c.Key, c.Value!)).ToList();
        var trainable = TrialLineage.Apply(original, changes, _spec);
        var from = action.From switch
        {
            RestartFrom.LastHealthy => trial.HealthyCheckpoint,
            RestartFrom.Latest => trial.Checkpoint,
            _ => null,
        };
        // A restart from the newest checkpoint keeps the last healthy one (not newer than it) for later restarts.
        var healthy = action.From == RestartFrom.Latest ? (trial.HealthyCheckpoint is { } h && h.Epoch <= (from?.Epoch ?? 0) ? h : null) : from;
        var fromEpoch = from?.Epoch ?? 0;
        attempts.Add(new TrialAttempt { Number = attempts.Count + 1, FromEpoch = fromEpoch, ParentCheckpoint = from?.Path, Changes = changes, StartedAt = now });
        Emit(new SweepEffect.EpochsDropped(id, fromEpoch));
        Change(id, t => t.MoveTo(TrialState.Pending) with
        {
            Config = t.Config with { Trainable = trainable },
            Worker = null,
            Attempts = attempts,
            Checkpoint = from,
            HealthyCheckpoint = healthy,
            Epochs = t.Epochs.Where(e => e.Epoch <= fromEpoch).ToList(),
        });
        Emit(new SweepEffect.Restarted(id, verdict.Kind, attempts[^1]));
        if (action.Delay > TimeSpan.Zero) Emit(new SweepEffect.RequeueLater(id, action.Delay));
        else _pending.AddFirst(id);
        Dispatch();
        return Drain();
    }

    /// <summary>A restart's backoff is over: the trial goes first in line.</summary>
    public IReadOnlyList<SweepEffect> RequeueDue(TrialId id)
    {
        if (_trials.TryGetValue(id, out var t) && t.State == TrialState.Pending && !_pending.Contains(id) && Completed is null)
        {
            _pending.AddFirst(id);
            Dispatch();
        }
        return Drain();
    }

    /// <summary>
    /// Ends the sweep early (its time budget is used up): nothing new starts; queued trials and running ones are stopped
    /// with <paramref name="reason"/>, for good (an interruption that <c>sweeper resume</c> continues is <see cref="Interrupt"/>).
    /// </summary>
    public IReadOnlyList<SweepEffect> Stop(string reason)
    {
        StopSweep(reason);
        return Drain();
    }

    /// <param name="interrupted">The sweep was interrupted (see <see cref="Interrupt"/>): the trials stopped here continue on resume.</param>
    /// <param name="graceful">Running trials are asked to finish their current epoch and stop (<see cref="SweepEffect.StopAfterEpoch"/>) instead of being stopped at once.</param>
    private void StopSweep(string reason, bool interrupted = false, bool graceful = false)
    {
        if (Completed is not null) return;
        if (_stopReason is null)
        {
            _stopReason = reason;
            Emit(new SweepEffect.StopReasonSet(reason));
        }
        Emit(new SweepEffect.SweepStopping(reason));
        _exhausted = true;
        StopPending(reason, interrupted);
        if (graceful)
        {
            foreach (var (worker, slots) in _workers)
                foreach (var id in slots.Running.OrderBy(i => i.Index))
                    Emit(new SweepEffect.StopAfterEpoch(worker, id, _trials[id].Assignment, reason));
        }
        else
        {
            var now = _clock();
            foreach (var (worker, slots) in _workers)
                foreach (var id in slots.Running.ToList())
                {
                    Emit(new SweepEffect.StopTrial(worker, id, reason));
                    slots.Running.Remove(id);
                    Change(id, t => t.MoveTo(TrialState.Stopped) with { FinishedAt = now, Reason = reason, Interrupted = interrupted });
                }
        }
        CompleteIfDone();
    }

    /// <summary>The one place a trial's record changes; counts the trials that reach a final state.</summary>
    private void Change(TrialId id, Func<TrialRecord, TrialRecord> change) => Change(id, static (t, f) => f(t), change);

    /// <summary><see cref="Change(TrialId, Func{TrialRecord, TrialRecord})"/> with the change's argument passed in, for a static lambda on a hot path.</summary>
    private void Change<TArg>(TrialId id, Func<TrialRecord, TArg, TrialRecord> change, TArg arg)
    {
        var before = _trials[id];
        var after = change(before, arg);
        _trials[id] = after;
        if (after.State.IsTerminal() && !before.State.IsTerminal()) _terminal++;
        Emit(new SweepEffect.TrialChanged(before, after));
    }

    private bool Current(TrialId id, int assignment) =>
        _assignment.TryGetValue(id, out var current) && current == assignment && _trials[id].State == TrialState.Running;

    private void Dispatch()
    {
        if (_draining)
        {
            HoldPending();
            return;
        }
        while (Completed is null)
        {
            Worker? best = null;
            WorkerId target = default;
            foreach (var (id, w) in _workers)
                if (w.Free > 0 && (best is null || w.Free > best.Free)) (best, target) = (w, id);
            if (best is null) return;
            TrialId next;
            if (_pending.Count > 0)
            {
                next = _pending.First!.Value;
                _pending.RemoveFirst();
            }
            else if (NextNewTrial() is { } config) next = config.Id;
            else return;
            best.Running.Add(next);
            var assignment = ++_assignment[next];
            var trial = _trials[next];
            var now = _clock();
            _unstarted.Add(next);
            Change(next, t => t.MoveTo(TrialState.Running) with
            {
                Assignment = assignment,
                Worker = best.Node,
                StartedAt = t.StartedAt ?? now,
                Attempts = t.Attempts.Count == 0 ? [new TrialAttempt { Number = 1, StartedAt = now }] : t.Attempts,
            });
            Emit(new SweepEffect.Assign(target, trial, assignment));
            Emit(new SweepEffect.AwaitStart(next, assignment, _startTimeout));
        }
    }

    /// <summary>Creates the next trial from the source, or notes that there are no more.</summary>
    private TrialConfig? NextNewTrial()
    {
        if (_exhausted) return null;
        var config = _source.Create(_nextIndex);
        if (config is null)
        {
            _exhausted = true;
            return null;
        }
        _nextIndex++;
        _trials[config.Id] = new TrialRecord { Config = config };
        _assignment[config.Id] = 0;
        Emit(new SweepEffect.TrialCreated(config));
        return config;
    }

    /// <summary>Asks the scheduler about a trial's newest result; stops the trial when it says so.</summary>
    private void Judge(TrialId id, EpochResult result)
    {
        var decision = _scheduler.OnResult(id, result.Epoch, result.Get(_spec.Objective.Metric));
        if (decision.IsStop || decision.Rung is not null) Emit(new SweepEffect.SchedulerDecided(id, _scheduler.Name, decision, result.Epoch));
        if (!decision.IsStop || result.Epoch >= _trials[id].Config.Trainable.Epochs) return;
        StopEarly(id, decision); // its own method: the lambda's closure is made only when a trial stops, not for every result
    }

    private void StopEarly(TrialId id, SchedulerDecision decision)
    {
        foreach (var (worker, slots) in _workers)
            if (slots.Running.Remove(id)) Emit(new SweepEffect.StopTrial(worker, id, decision.Reason));
        Change(id, t => t.MoveTo(TrialState.Stopped) with { FinishedAt = _clock(), Reason = $"{_scheduler.Name}: {decision.Reason}", Rung = decision.Rung });
        Ended(id);
    }

    private void Finish(TrialId id, TrialState state, string? reason)
    {
        foreach (var w in _workers.Values) w.Running.Remove(id);
        var now = _clock();
        Change(id, t => t.MoveTo(state) with { FinishedAt = now, Reason = reason, Attempts = TrialLineage.EndLast(t) });
        ReportToSource(_trials[id]);
        if (SweepStops.TargetReached(_spec, _trials[id]) is { } stop) StopSweep(stop);
        Dispatch();
        CompleteIfDone();
    }

    /// <summary>A trial finished: the searcher learns its objective, its slot goes to the next trial.</summary>
    private void Ended(TrialId id)
    {
        ReportToSource(_trials[id]);
        Dispatch();
        CompleteIfDone();
    }

    private void ReportToSource(TrialRecord t) =>
        _source.Report(t.Config, t.State == TrialState.Failed ? double.NaN : t.Objective(_spec.Objective));

    /// <summary>Rebuilds the searcher's and the scheduler's state from journaled results (epoch by epoch, then final objectives).</summary>
    private void Replay(IReadOnlyList<TrialRecord> trials)
    {
        int maxEpoch = trials.Count == 0 ? 0 : trials.Max(t => t.Epochs.Count == 0 ? 0 : t.Epochs[^1].Epoch);
        for (int epoch = 1; epoch <= maxEpoch; epoch++)
            foreach (var t in trials)
                foreach (var e in t.Epochs.Where(e => e.Epoch == epoch))
                    _scheduler.OnResult(t.Id, e.Epoch, e.Get(_spec.Objective.Metric));
        foreach (var t in trials.Where(t => t.State.IsTerminal()))
            ReportToSource(t);
    }

    /// <summary>The journal keeps a trial's original config; a restarted trial runs with its last attempt's changes.</summary>
    private TrialRecord WithAttemptChanges(TrialRecord t)
    {
        if (t.Attempts.Count < 2 || t.Attempts[^1].Changes.Count == 0) return t;
        _originalTrainable[t.Id] = t.Config.Trainable;
        return t with { Config = t.Config with { Trainable = TrialLineage.Current(t.Config.Trainable, t.Attempts, _spec) } };
    }

    private TrialRecord Requeue(TrialRecord t, string reason)
    {
        var from = t.Checkpoint?.Epoch ?? 0;
        return t.MoveTo(TrialState.Pending) with
        {
            Worker = null,
            Epochs = t.Epochs.Where(e => e.Epoch <= from).ToList(),
            Resumes = [.. t.Resumes, new TrialResume(from, reason, _clock())],
        };
    }

    /// <summary>Appends (or, for a redone epoch, replaces from) an epoch in O(log n): trials may report thousands.</summary>
    private static EpochLog WithEpoch(IReadOnlyList<EpochResult> epochs, EpochResult next)
    {
        int keep = epochs.Count;
        while (keep > 0 && epochs[keep - 1].Epoch >= next.Epoch) keep--; // an epoch done again replaces it and those after it
        return EpochLog.Append(EpochLog.Prefix(epochs, keep), next);
    }

    private void CompleteIfDone()
    {
        if (Completed is not null || _terminal < _trials.Count || _pending.Count > 0) return;
        if (!_exhausted && _source.Create(_nextIndex) is not null) return; // more trials to come (Create is idempotent)
        _exhausted = true;
        Completed = new SweepResult(_spec.Name, _spec.Objective, Trials.ToList(), StartedAt, _clock()) { StopReason = _stopReason };
        Emit(new SweepEffect.SweepCompleted(Completed));
    }

    private void Emit(SweepEffect effect) => _effects.Add(effect);

    private IReadOnlyList<SweepEffect> Drain()
    {
        if (_effects.Count == 0) return [];
        var done = _effects;
        _effects = new List<SweepEffect>();
        return done;
    }

    private sealed class Worker(string node, int slots)
    {
        public string Node { get; } = node;
        public HashSet<TrialId> Running { get; } = new();
        public int Free => slots - Running.Count;
    }
}
