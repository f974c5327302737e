using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Sweeper.Cluster.Journal;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Scheduling;
using Sweeper.Core.Stability;
using Sweeper.Core.Spec;
using Sweeper.Core.Telemetry;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Actors;

/// <summary>Where a coordinator keeps its journal and its trials' checkpoints.</summary>
/// <param name="RunDirectory">The run directory (holds the journal); null: no journal (tests, benchmarks without it).</param>
/// <param name="CheckpointDir">The folder trials checkpoint to; every worker must reach it.</param>
/// <param name="OnFatal">Called when the coordinator cannot start (e.g. an unreadable journal), so its host can stop instead of waiting.</param>
public sealed record CoordinatorOptions(string? RunDirectory, string CheckpointDir, Action<string>? OnFatal = null);

/// <summary>
/// The one place that changes a trial's state. Hands trials to free worker slots, records every result, requeues the
/// trials of a worker that went away (to continue from their newest checkpoint), and tells subscribers of every change.
/// <para>
/// Every change is journaled before anything that depends on it leaves this actor: changes and outgoing messages
/// collect in an outbox that is flushed — one SQLite transaction, then the sends — when the messages already in the
/// mailbox have been handled. A coordinator started on a run directory that has a journal resumes from it.
/// </para>
/// </summary>
public sealed class SweepCoordinatorActor : ReceiveActor, IWithTimers
{
    public const string Name = "sweep-coordinator";

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly SweepSpec _spec;
    private readonly CoordinatorOptions _options;
    private readonly ITrialSource _source;
    private readonly ITrialScheduler _scheduler;
    private readonly RestartPolicy _restartPolicy;
    private readonly IReadOnlyList<string> _actOn;
    private readonly Dictionary<TrialId, TrialRecord> _trials = new();
    private readonly Dictionary<TrialId, int> _assignment = new();
    private readonly LinkedList<TrialId> _pending = new();
    private readonly Dictionary<IActorRef, WorkerSlots> _workers = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    // The outbox: journal entries, then messages, flushed together.
    private readonly List<JournalEntry> _journalBatch = new();
    private readonly HashSet<TrialId> _dirty = new();
    private readonly List<(IActorRef To, object Message)> _sends = new();
    private bool _flushScheduled;

    private SweepJournal? _journal;
    private Activity? _sweepSpan;
    private readonly Dictionary<TrialId, Activity> _trialSpans = new();
    private DateTimeOffset _startedAt = DateTimeOffset.UtcNow;
    private int _terminal;
    private int _nextIndex;
    private bool _exhausted;       // no more trials will be created (the source ran out, or the sweep is stopping)
    private SweepResult? _completed;
    private string? _stopReason;
    private bool _completedPending;

    public static Props Props(SweepSpec spec, ITrialSource source, CoordinatorOptions options) =>
        Akka.Actor.Props.Create(() => new SweepCoordinatorActor(spec, source, options));

    public SweepCoordinatorActor(SweepSpec spec, ITrialSource source, CoordinatorOptions options)
    {
        _spec = spec;
        _source = source;
        _scheduler = Schedulers.Create(spec);
        _restartPolicy = new RestartPolicy(spec.Stability.Policy);
        _actOn = StabilityParsing.Kinds.Where(k => !spec.Stability.Policy.For(k).Action.Equals(StabilityActionKind.Continue)).Select(StabilityParsing.Word).ToList();
        _options = options;

        Receive<WorkerCommands.RegisterWorker>(OnRegister);
        Receive<Terminated>(m => OnWorkerGone(m.ActorRef));
        Receive<TrialEvents.TrialStarted>(m => { if (Current(m.Id, m.Assignment)) Change(m.Id, t => t with { Worker = m.Node }); });
        Receive<TrialEvents.EpochCompleted>(m =>
        {
            if (!Current(m.Id, m.Assignment)) return;
            Change(m.Id, t => t with { Epochs = WithEpoch(t.Epochs, m.Result) });
            Journal(new JournalEntry.EpochRow(m.Id, m.Result));
            Judge(m.Id, m.Result);
        });
        Receive<TrialEvents.CheckpointSaved>(m =>
        {
            if (Current(m.Id, m.Assignment))
                Change(m.Id, t => t with { Checkpoint = m.Checkpoint, HealthyCheckpoint = m.Healthy ? m.Checkpoint : t.HealthyCheckpoint });
        });
        Receive<TrialEvents.TrialUnstable>(m => { if (Current(m.Id, m.Assignment)) OnUnstable(m); });
        Receive<RequeueAfterBackoff>(m =>
        {
            if (_trials.TryGetValue(m.Id, out var t) && t.State == TrialState.Pending && !_pending.Contains(m.Id) && _completed is null)
            {
                _pending.AddFirst(m.Id);
                Dispatch();
            }
        });
        Receive<TrialEvents.TrialCompleted>(m => { if (Current(m.Id, m.Assignment)) Finish(m.Id, TrialState.Completed, null); });
        Receive<TrialEvents.TrialFailed>(m => { if (Current(m.Id, m.Assignment)) Finish(m.Id, TrialState.Failed, m.Error); });
        Receive<TrialEvents.TrialCrashed>(m =>
        {
            if (!Current(m.Id, m.Assignment)) return;
            Change(m.Id, t => t with { Crashes = [.. t.Crashes, new TrialCrash(m.Error, m.AfterEpoch, DateTimeOffset.UtcNow)] });
            TrialSpan(_trials[m.Id])?.AddEvent(new ActivityEvent("trial.crash", tags: new ActivityTagsCollection
            {
                [SweeperTelemetry.Tags.Reason] = m.Error, [SweeperTelemetry.Tags.Epoch] = (long)m.AfterEpoch,
            }));
        });
        Receive<SweepQueries.Subscribe>(_ => OnSubscribe(Sender));
        Receive<SweepQueries.CancelSweep>(m => OnCancel(m.Reason));
        Receive<SweepQueries.GetStatus>(_ => Sender.Tell(new SweepQueries.SweepStatus(
            _trials.Count, _terminal, _workers.Values.Sum(w => w.Running.Count), _source.Total, _completed is not null)));
        Receive<FlushOutbox>(_ => Flush());
        Receive<BudgetExpired>(_ => StopSweep($"time budget of {_spec.Stop.MaxMinutes} min used up"));
    }

    protected override void PreStart()
    {
        try
        {
            Start();
        }
        catch (Exception ex)
        {
            _log.Error(ex, "The coordinator of sweep {0} cannot start", _spec.Name);
            _options.OnFatal?.Invoke($"the coordinator cannot start: {ex.GetType().Name}: {ex.Message}");
            throw;
        }
    }

    private void Start()
    {
        IReadOnlyList<TrialRecord> start = [];
        string? resumedFrom = null;
        if (_options.RunDirectory is { } dir && File.Exists(Path.Combine(dir, SweepJournal.FileName)))
        {
            _journal = SweepJournal.Open(dir);
            var state = _journal.Load();
            _startedAt = state.StartedAt;
            resumedFrom = state.TraceParent ?? "";
            start = state.Trials.Select(WithAttemptChanges).Select(Recover).ToList();
            _log.Info("Resumed sweep {0} from {1}: {2} of {3} trial(s) already finished", _spec.Name, _journal.Path,
                start.Count(t => t.State.IsTerminal()), start.Count);
        }
        else if (_options.RunDirectory is { } newDir)
        {
            _journal = SweepJournal.Create(newDir, _spec, _startedAt);
        }
        foreach (var t in start)
        {
            _trials[t.Id] = t;
            _assignment[t.Id] = 0;
            if (t.State == TrialState.Pending) _pending.AddLast(t.Id);
            if (t.State.IsTerminal()) _terminal++;
        }
        _nextIndex = start.Count == 0 ? 0 : start.Max(t => t.Id.Index);
        StartSweepSpan(resumedFrom);
        Replay(start);
        if (_spec.Stop.MaxMinutes is { } minutes)
        {
            var left = _startedAt.AddMinutes(minutes) - DateTimeOffset.UtcNow;
            if (left <= TimeSpan.Zero) Self.Tell(BudgetExpired.Instance);
            else Timers.StartSingleTimer(BudgetExpired.Instance, BudgetExpired.Instance, left);
        }
        CompleteIfDone();
        Flush();
    }

    /// <summary>
    /// The sweep's root span; a resumed sweep gets a <c>sweep.resume</c> span under the original root (kept in the
    /// journal), so the whole sweep stays one trace.
    /// </summary>
    private void StartSweepSpan(string? resumedFrom)
    {
        var tags = new Dictionary<string, object?>
        {
            [SweeperTelemetry.Tags.SweepName] = _spec.Name,
            [SweeperTelemetry.Tags.SearchAlgorithm] = _spec.Search.Algorithm,
            [SweeperTelemetry.Tags.Scheduler] = _spec.Scheduler.Name,
            [SweeperTelemetry.Tags.Objective] = _spec.Objective.Metric,
        };
        _sweepSpan = resumedFrom is null
            ? SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.Sweep, default, ActivityKind.Internal, tags)
            : SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.SweepResume, SweeperTelemetry.Parse(resumedFrom), ActivityKind.Internal, tags);
        if (resumedFrom is null && _sweepSpan is not null) _journal?.SetMeta("trace_parent", _sweepSpan.Id!);
    }

    private Activity? TrialSpan(TrialRecord trial)
    {
        if (_trialSpans.TryGetValue(trial.Id, out var span)) return span;
        var tags = new List<KeyValuePair<string, object?>> { new(SweeperTelemetry.Tags.TrialId, trial.Id.ToString()) };
        foreach (var (k, v) in trial.Config.Parameters) tags.Add(new(SweeperTelemetry.Tags.ParamPrefix + k, SweeperTelemetry.AttributeValue(v)));
        span = SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.Trial, _sweepSpan?.Context ?? default, ActivityKind.Internal, tags);
        if (span is null) return null;
        foreach (var r in trial.Resumes)
            span.AddEvent(new ActivityEvent(SweeperTelemetry.Events.Resumed, r.At, new ActivityTagsCollection
            {
                [SweeperTelemetry.Tags.ResumedFromEpoch] = (long)r.FromEpoch, [SweeperTelemetry.Tags.Reason] = r.Reason,
            }));
        _trialSpans[trial.Id] = span;
        return span;
    }

    private void EndTrialSpan(TrialRecord trial)
    {
        if (!_trialSpans.Remove(trial.Id, out var span)) return;
        span.SetTag(SweeperTelemetry.Tags.TrialState, trial.State.ToString().ToLowerInvariant());
        span.SetTag(SweeperTelemetry.Tags.Node, trial.Worker);
        var objective = trial.Objective(_spec.Objective);
        if (double.IsFinite(objective)) span.SetTag(SweeperTelemetry.Tags.TrialObjective, objective);
        if (trial.Last is { } last)
            foreach (var (k, v) in last.Metrics)
                if (double.IsFinite(v) && !k.StartsWith("quant.", StringComparison.Ordinal)) span.SetTag(SweeperTelemetry.Tags.MetricPrefix + k, v);
        if (trial.Reason is not null) span.SetTag(SweeperTelemetry.Tags.Reason, trial.Reason);
        if (trial.State == TrialState.Failed) span.SetStatus(ActivityStatusCode.Error, trial.Reason);
        span.Dispose();
    }

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

    protected override void PostStop()
    {
        try { Flush(); }
        finally
        {
            _journal?.Dispose();
            foreach (var span in _trialSpans.Values) span.Dispose();
            _sweepSpan?.Dispose();
        }
    }

    /// <summary>The journal keeps a trial's original config; a restarted trial runs with its last attempt's changes.</summary>
    private TrialRecord WithAttemptChanges(TrialRecord t)
    {
        if (t.Attempts.Count < 2 || t.Attempts[^1].Changes.Count == 0) return t;
        _originalTrainable[t.Id] = t.Config.Trainable;
        var trainable = SpecLoader.Apply(_spec with { Trainable = t.Config.Trainable }, t.Attempts[^1].Changes).Trainable;
        return t with { Config = t.Config with { Trainable = trainable } };
    }

    /// <summary>A trial found running in the journal was interrupted: it is queued again, to continue from its checkpoint.</summary>
    private TrialRecord Recover(TrialRecord t)
    {
        if (t.State != TrialState.Running) return t;
        var requeued = Requeue(t, "the coordinator restarted");
        Journal(new JournalEntry.DropEpochsAfter(t.Id, requeued.Checkpoint?.Epoch ?? 0));
        _dirty.Add(t.Id);
        return requeued;
    }

    private static TrialRecord Requeue(TrialRecord t, string reason)
    {
        var from = t.Checkpoint?.Epoch ?? 0;
        return t.MoveTo(TrialState.Pending) with
        {
            Worker = null,
            Epochs = t.Epochs.Where(e => e.Epoch <= from).ToList(),
            Resumes = [.. t.Resumes, new TrialResume(from, reason, DateTimeOffset.UtcNow)],
        };
    }

    /// <summary>Appends (or, for a redone epoch, replaces from) an epoch in O(log n): trials may report thousands.</summary>
    private static ImmutableList<EpochResult> WithEpoch(IReadOnlyList<EpochResult> epochs, EpochResult next)
    {
        var list = epochs as ImmutableList<EpochResult> ?? ImmutableList.CreateRange(epochs);
        while (list.Count > 0 && list[^1].Epoch >= next.Epoch) list = list.RemoveAt(list.Count - 1);
        return list.Add(next);
    }

    private bool Current(TrialId id, int assignment) =>
        _assignment.TryGetValue(id, out var current) && current == assignment && _trials[id].State == TrialState.Running;

    private void OnRegister(WorkerCommands.RegisterWorker m)
    {
        if (!_workers.ContainsKey(Sender))
        {
            _workers[Sender] = new WorkerSlots(m.Node, m.Slots);
            Context.Watch(Sender);
            _log.Info("Worker {0} joined with {1} slot(s)", m.Node, m.Slots);
        }
        Send(Sender, WorkerCommands.WorkerRegistered.Instance);
        Dispatch();
    }

    private void OnSubscribe(IActorRef subscriber)
    {
        Flush(); // the snapshot must not run ahead of the journal
        _subscribers.Add(subscriber);
        Context.Watch(subscriber);
        foreach (var t in _trials.Values.OrderBy(t => t.Id.Index)) subscriber.Tell(new SweepQueries.TrialUpdated(t));
        if (_completed is not null) subscriber.Tell(new SweepQueries.SweepCompleted(_completed));
    }

    private void OnWorkerGone(IActorRef actor)
    {
        if (_subscribers.Remove(actor)) return;
        if (!_workers.Remove(actor, out var worker)) return;
        _log.Warning("Worker {0} is gone; its {1} running trial(s) are queued again", worker.Node, worker.Running.Count);
        foreach (var id in worker.Running.OrderByDescending(i => i.Index))
        {
            var requeued = Requeue(_trials[id], $"worker {worker.Node} left the cluster");
            Journal(new JournalEntry.DropEpochsAfter(id, requeued.Checkpoint?.Epoch ?? 0));
            TrialSpan(_trials[id])?.AddEvent(new ActivityEvent(SweeperTelemetry.Events.QueuedAgain, tags: new ActivityTagsCollection
            {
                [SweeperTelemetry.Tags.Reason] = requeued.Resumes[^1].Reason, [SweeperTelemetry.Tags.ResumedFromEpoch] = (long)requeued.Resumes[^1].FromEpoch,
            }));
            SweeperTelemetry.Restarts.Add(1, new KeyValuePair<string, object?>(SweeperTelemetry.Tags.Reason, "worker gone"));
            Change(id, _ => requeued);
            _pending.AddFirst(id);
        }
        Dispatch();
    }

    private void Dispatch()
    {
        while (_completed is null)
        {
            WorkerSlots? best = null;
            IActorRef? target = null;
            foreach (var (w, slots) in _workers)
                if (slots.Free > 0 && (best is null || slots.Free > best.Free)) { best = slots; target = w; }
            if (best is null || target is null) return;
            TrialId id;
            if (_pending.Count > 0)
            {
                id = _pending.First!.Value;
                _pending.RemoveFirst();
            }
            else if (NextNewTrial() is { } config)
            {
                id = config.Id;
            }
            else return;
            best.Running.Add(id);
            var assignment = ++_assignment[id];
            var trial = _trials[id];
            Change(id, t => t.MoveTo(TrialState.Running) with
            {
                Worker = best.Node,
                StartedAt = t.StartedAt ?? DateTimeOffset.UtcNow,
                Attempts = t.Attempts.Count == 0 ? [new TrialAttempt { Number = 1, StartedAt = DateTimeOffset.UtcNow }] : t.Attempts,
            });
            var span = TrialSpan(trial);
            Send(target, new WorkerCommands.AssignTrial(trial.Config, assignment, trial.Checkpoint, _options.CheckpointDir, _spec.Checkpoint.IntervalEpochs,
                SweeperTelemetry.TraceParent(span), _spec.Crashes.MaxRetries, _spec.Crashes.BackoffSeconds, _spec.Stability.Monitor, _actOn));
        }
    }

    /// <summary>Creates the next trial from the source (journaled), or notes that there are no more.</summary>
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
        SweeperTelemetry.TrialsByState.Add(1, new(SweeperTelemetry.Tags.SweepName, _spec.Name), new(SweeperTelemetry.Tags.TrialState, "pending"));
        Journal(new JournalEntry.NewTrial(config));
        return config;
    }

    /// <summary>Asks the scheduler about a trial's newest result; stops the trial when it says so.</summary>
    private void Judge(TrialId id, EpochResult result)
    {
        var decision = _scheduler.OnResult(id, result.Epoch, result.Get(_spec.Objective.Metric));
        if (decision.IsStop || decision.Rung is not null)
            TrialSpan(_trials[id])?.AddEvent(new ActivityEvent(SweeperTelemetry.Events.SchedulerDecision, tags: new ActivityTagsCollection
            {
                [SweeperTelemetry.Tags.Action] = decision.IsStop ? "stop" : "continue",
                [SweeperTelemetry.Tags.Reason] = decision.Reason,
                [SweeperTelemetry.Tags.Rung] = (long?)decision.Rung,
                [SweeperTelemetry.Tags.Epoch] = (long)result.Epoch,
                [SweeperTelemetry.Tags.Scheduler] = _scheduler.Name,
            }));
        if (!decision.IsStop || result.Epoch >= _trials[id].Config.Trainable.Epochs) return;
        foreach (var (worker, slots) in _workers)
            if (slots.Running.Remove(id)) Send(worker, new WorkerCommands.StopTrial(id, decision.Reason));
        Change(id, t => t.MoveTo(TrialState.Stopped) with { FinishedAt = DateTimeOffset.UtcNow, Reason = $"{_scheduler.Name}: {decision.Reason}", Rung = decision.Rung });
        _terminal++;
        ReportToSource(_trials[id]);
        Dispatch();
        CompleteIfDone();
    }

    private void ReportToSource(TrialRecord t) =>
        _source.Report(t.Config, t.State == TrialState.Failed ? double.NaN : t.Objective(_spec.Objective));

    /// <summary>
    /// The domain's answer to instability, from the spec's policy: restart the trial as a new attempt (rolled back to
    /// its newest healthy checkpoint or the start, with the declared changes applied cumulatively, after the
    /// backoff), stop it, or — when the policy says continue — nothing ends here.
    /// </summary>
    private void OnUnstable(TrialEvents.TrialUnstable m)
    {
        var trial = _trials[m.Id];
        var history = RestartHistory.Of(trial.Attempts.Where(a => a.Verdict is not null).Select(a => Enum.Parse<StabilityKind>(a.Verdict!, ignoreCase: true)));
        var action = _restartPolicy.Decide(m.Verdict, history, trial.HealthyCheckpoint is not null, trial.Checkpoint is not null);
        foreach (var w in _workers.Values) w.Running.Remove(m.Id);
        var kind = StabilityParsing.Word(m.Verdict.Kind);
        var attempts = trial.Attempts.Count == 0 ? [new TrialAttempt { Number = 1, StartedAt = trial.StartedAt ?? DateTimeOffset.UtcNow }] : trial.Attempts.ToList();
        var current = attempts[^1];
        attempts[^1] = current with
        {
            Verdict = kind, Reason = m.Verdict.Reason, Step = m.Verdict.Step, LastEpoch = m.LastEpoch,
            Flips = m.Flips > 0 ? m.Flips : EpochFlips(trial, current.FromEpoch),
        };
        TrialSpan(trial)?.AddEvent(new ActivityEvent(SweeperTelemetry.Events.StabilityVerdict, tags: new ActivityTagsCollection
        {
            ["sweeper.stability.verdict"] = kind, [SweeperTelemetry.Tags.Reason] = action.Reason, ["sweeper.stability.step"] = m.Verdict.Step,
            [SweeperTelemetry.Tags.Action] = StabilityParsing.Word(action.Action),
        }));
        if (!action.IsRestart)
        {
            Change(m.Id, t => t.MoveTo(TrialState.Stopped) with { Attempts = attempts, FinishedAt = DateTimeOffset.UtcNow, Reason = "stability: " + action.Reason });
            _terminal++;
            ReportToSource(_trials[m.Id]);
            Dispatch();
            CompleteIfDone();
            return;
        }

        // The new attempt: the original config with every restart's changes so far, from the chosen checkpoint.
        _originalTrainable.TryAdd(m.Id, trial.Config.Trainable); // the journal keeps the original config; attempts keep the changes
        var originalTrainable = _originalTrainable[m.Id];
        var changed = _restartPolicy.ParametersFor(action.History, TrainableValues.Lookup(originalTrainable, trial.Config.Parameters));
        var trainable = SpecLoader.Apply(_spec with { Trainable = originalTrainable }, changed.Where(c => c.Value is not null).Select(c => new KeyValuePair<string, object>(c.Key, c.Value!))).Trainable;
        var from = action.From switch
        {
            RestartFrom.LastHealthy => trial.HealthyCheckpoint,
            RestartFrom.Latest => trial.Checkpoint,
            _ => null,
        };
        // A restart from the newest checkpoint keeps the last healthy one (not newer than it) for later restarts.
        var healthy = action.From == RestartFrom.Latest ? (trial.HealthyCheckpoint is { } h && h.Epoch <= (from?.Epoch ?? 0) ? h : null) : from;
        attempts.Add(new TrialAttempt
        {
            Number = attempts.Count + 1, FromEpoch = from?.Epoch ?? 0, ParentCheckpoint = from?.Path,
            Changes = changed.Where(c => c.Value is not null).Select(c => new KeyValuePair<string, object>(c.Key, c.Value!)).ToList(),
            StartedAt = DateTimeOffset.UtcNow,
        });
        Journal(new JournalEntry.DropEpochsAfter(m.Id, from?.Epoch ?? 0));
        Change(m.Id, t => t.MoveTo(TrialState.Pending) with
        {
            Config = t.Config with { Trainable = trainable },
            Worker = null,
            Attempts = attempts,
            Checkpoint = from,
            HealthyCheckpoint = healthy,
            Epochs = t.Epochs.Where(e => e.Epoch <= (from?.Epoch ?? 0)).ToList(),
        });
        SweeperTelemetry.Restarts.Add(1, new KeyValuePair<string, object?>("sweeper.stability.verdict", kind));
        TrialSpan(_trials[m.Id])?.AddEvent(new ActivityEvent(SweeperTelemetry.Events.Restart, tags: new ActivityTagsCollection
        {
            [SweeperTelemetry.Tags.Attempt] = (long)attempts.Count, [SweeperTelemetry.Tags.ResumedFromEpoch] = (long)(from?.Epoch ?? 0),
            ["sweeper.restart.changes"] = string.Join(", ", attempts[^1].Changes.Select(c => $"{c.Key}={c.Value}")),
        }));
        if (action.Delay > TimeSpan.Zero) Timers.StartSingleTimer(("requeue", m.Id), new RequeueAfterBackoff(m.Id), action.Delay);
        else _pending.AddFirst(m.Id);
        Dispatch();
    }

    private readonly Dictionary<TrialId, TrainableSpec> _originalTrainable = new();

    /// <summary>Exponent changes reported by the epochs after <paramref name="fromEpoch"/> (quant.flips_epoch).</summary>
    private static long EpochFlips(TrialRecord trial, int fromEpoch) =>
        (long)trial.Epochs.Where(e => e.Epoch > fromEpoch).Sum(e => e.Metrics.TryGetValue("quant.flips_epoch", out var f) && double.IsFinite(f) ? f : 0);

    private void Finish(TrialId id, TrialState state, string? reason)
    {
        foreach (var w in _workers.Values) w.Running.Remove(id);
        Change(id, t => t.MoveTo(state) with
        {
            FinishedAt = DateTimeOffset.UtcNow,
            Reason = reason,
            // The last attempt ends here: its epochs and flips complete the lineage.
            Attempts = t.Attempts.Count == 0 ? t.Attempts
                : [.. t.Attempts.Take(t.Attempts.Count - 1), t.Attempts[^1] with { LastEpoch = t.Last?.Epoch ?? 0, Flips = EpochFlips(t, t.Attempts[^1].FromEpoch) }],
        });
        _terminal++;
        var trial = _trials[id];
        ReportToSource(trial);
        if (state == TrialState.Completed && _spec.Stop.Target is { } target && double.IsFinite(trial.Objective(_spec.Objective))
            && (_spec.Objective.Mode == ObjectiveMode.Max ? trial.Objective(_spec.Objective) >= target : trial.Objective(_spec.Objective) <= target))
            StopSweep($"target {_spec.Objective.Metric} {(_spec.Objective.Mode == ObjectiveMode.Max ? ">=" : "<=")} {target} reached by {id}");
        Dispatch();
        CompleteIfDone();
    }

    private void OnCancel(string reason) => StopSweep(reason);

    /// <summary>Ends the sweep early: nothing new starts; queued trials and running ones are stopped with <paramref name="reason"/>.</summary>
    private void StopSweep(string reason)
    {
        if (_completed is not null) return;
        _log.Info("Sweep {0} stops: {1}", _spec.Name, reason);
        if (_stopReason is null)
        {
            _stopReason = reason;
            _journal?.SetMeta("stop_reason", reason);
        }
        _sweepSpan?.AddEvent(new ActivityEvent(SweeperTelemetry.Events.SweepStopping, tags: new ActivityTagsCollection { [SweeperTelemetry.Tags.Reason] = reason }));
        _exhausted = true;
        foreach (var id in _pending)
        {
            Change(id, t => t.MoveTo(TrialState.Stopped) with { Reason = reason });
            _terminal++;
        }
        _pending.Clear();
        foreach (var (worker, slots) in _workers)
            foreach (var id in slots.Running.ToList())
            {
                Send(worker, new WorkerCommands.StopTrial(id, reason));
                slots.Running.Remove(id);
                Change(id, t => t.MoveTo(TrialState.Stopped) with { FinishedAt = DateTimeOffset.UtcNow, Reason = reason });
                _terminal++;
            }
        CompleteIfDone();
    }

    private void Change(TrialId id, Func<TrialRecord, TrialRecord> change)
    {
        var before = _trials[id];
        var after = change(before);
        _trials[id] = after;
        if (before.State != after.State)
        {
            var sweep = new KeyValuePair<string, object?>(SweeperTelemetry.Tags.SweepName, _spec.Name);
            SweeperTelemetry.TrialsByState.Add(-1, sweep, new(SweeperTelemetry.Tags.TrialState, before.State.ToString().ToLowerInvariant()));
            SweeperTelemetry.TrialsByState.Add(1, sweep, new(SweeperTelemetry.Tags.TrialState, after.State.ToString().ToLowerInvariant()));
            if (after.State.IsTerminal()) EndTrialSpan(after);
        }
        _dirty.Add(id);
        ScheduleFlush();
    }

    private void Journal(JournalEntry entry)
    {
        _journalBatch.Add(entry);
        ScheduleFlush();
    }

    private void Send(IActorRef to, object message)
    {
        _sends.Add((to, message));
        ScheduleFlush();
    }

    private void ScheduleFlush()
    {
        if (_flushScheduled) return;
        _flushScheduled = true;
        Self.Tell(FlushOutbox.Instance); // handled after the messages already queued: they share one transaction
    }

    private void Flush()
    {
        _flushScheduled = false;
        if (_dirty.Count == 0 && _journalBatch.Count == 0 && _sends.Count == 0) return;
        var updated = _dirty.Select(id => _trials[id]).ToList();
        // Trial rows go first: an epoch row of a resumed trial must follow the row that dropped its later epochs.
        var batch = new List<JournalEntry>(_journalBatch.Count + updated.Count);
        batch.AddRange(_journalBatch.OfType<JournalEntry.DropEpochsAfter>());
        batch.AddRange(updated.Select(t => (JournalEntry)new JournalEntry.TrialRow(t)));
        batch.AddRange(_journalBatch.Where(e => e is not JournalEntry.DropEpochsAfter));
        _journal?.Write(batch);
        _journalBatch.Clear();
        _dirty.Clear();
        foreach (var (to, message) in _sends) to.Tell(message, Self);
        _sends.Clear();
        foreach (var s in _subscribers)
        {
            foreach (var t in updated) s.Tell(new SweepQueries.TrialUpdated(t));
            if (_completed is not null && _completedPending) s.Tell(new SweepQueries.SweepCompleted(_completed));
        }
        _completedPending = false;
    }

    private void CompleteIfDone()
    {
        if (_completed is not null || _terminal < _trials.Count || _pending.Count > 0) return;
        if (!_exhausted && _source.Create(_nextIndex) is not null) return; // more trials to come (Create is idempotent)
        _exhausted = true;
        _completed = new SweepResult(_spec.Name, _spec.Objective, _trials.Values.OrderBy(t => t.Id.Index).ToList(), _startedAt, DateTimeOffset.UtcNow)
        {
            StopReason = _stopReason,
        };
        _completedPending = true;
        _log.Info("Sweep {0} finished: {1} trial(s)", _spec.Name, _trials.Count);
        if (_completed.Best is { } best) _sweepSpan?.SetTag("sweeper.best.trial", best.Id.ToString());
        _sweepSpan?.SetTag("sweeper.trials", (long)_trials.Count);
        _sweepSpan?.Dispose();
        _sweepSpan = null;
        ScheduleFlush();
    }

    private sealed record RequeueAfterBackoff(TrialId Id) : INoSerializationVerificationNeeded;

    private sealed record BudgetExpired : INoSerializationVerificationNeeded
    {
        public static readonly BudgetExpired Instance = new();
    }

    private sealed record FlushOutbox : INoSerializationVerificationNeeded
    {
        public static readonly FlushOutbox Instance = new();
    }

    private sealed class WorkerSlots(string node, int slots)
    {
        public string Node { get; } = node;
        public HashSet<TrialId> Running { get; } = new();
        public int Free => slots - Running.Count;
    }
}
