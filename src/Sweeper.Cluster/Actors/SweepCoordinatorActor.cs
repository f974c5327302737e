using Akka.Actor;
using Akka.Event;
using Sweeper.Cluster.Journal;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Stability;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// The sweep's coordinator (a cluster singleton): turns messages into events of its <see cref="SweepState"/>, which
/// decides everything, and carries out the effects it returns. Changes and outgoing messages collect in an
/// <see cref="Outbox"/> that is flushed — one journal transaction, then the sends — when the messages already in the
/// mailbox have been handled. A coordinator started on a run directory that has a journal resumes from it.
/// A failed journal write is retried (<see cref="JournalRetry"/>), then the sweep fails: <see cref="CoordinatorOptions.OnFatal"/>
/// gets the cause and the trials so far. Workers and watchers keep registering, so a restarted (or moved) coordinator
/// learns of them; it answers workers with its incarnation.
/// </summary>
public sealed class SweepCoordinatorActor : ReceiveActor, IWithTimers
{
    public const string Name = "sweep-coordinator";

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly SweepSpec _spec;
    private readonly CoordinatorOptions _options;
    private readonly SweepState _state;
    private readonly SweepTracing _tracing;
    private readonly IReadOnlyList<StabilityKind> _actOn;
    private readonly Outbox _outbox = new();
    private readonly WorkerRegistry _workers = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _incarnation = Guid.NewGuid().ToString("N");
    private SweepJournal? _journal;
    private readonly JournalFailures _failures;
    private bool _flushScheduled;

    public static Props Props(SweepSpec spec, ITrialSource source, CoordinatorOptions options) =>
        Akka.Actor.Props.Create(() => new SweepCoordinatorActor(spec, source, options));

    public SweepCoordinatorActor(SweepSpec spec, ITrialSource source, CoordinatorOptions options)
    {
        _spec = spec;
        _options = options;
        _state = new SweepState(spec, source, startTimeout: options.StartTimeout);
        _tracing = new SweepTracing(spec);
        _failures = new JournalFailures(options.JournalRetry);
        _actOn = StabilityKinds.Unhealthy.Where(k => spec.Stability.Policy.For(k).Action != StabilityActionKind.Continue).ToList();

        Receive<WorkerCommands.RegisterWorker>(OnRegister);
        Receive<Terminated>(m => OnGone(m.ActorRef));
        Receive<TrialEvents.TrialStarted>(m => Apply(_state.TrialStarted(m.Id, m.Assignment, m.Node)));
        Receive<TrialEvents.EpochCompleted>(m => Apply(_state.EpochCompleted(m.Id, m.Assignment, m.Result)));
        Receive<TrialEvents.CheckpointSaved>(m => Apply(_state.CheckpointSaved(m.Id, m.Assignment, m.Checkpoint, m.Healthy), ack: Sender));
        Receive<TrialEvents.TrialUnstable>(m => Apply(_state.TrialUnstable(m.Id, m.Assignment, m.Verdict, m.LastEpoch, m.Flips)));
        Receive<TrialEvents.TrialCompleted>(m => Apply(_state.TrialCompleted(m.Id, m.Assignment)));
        Receive<TrialEvents.TrialPaused>(m => Apply(_state.TrialPaused(m.Id, m.Assignment)));
        Receive<TrialEvents.TrialFailed>(m => Apply(_state.TrialFailed(m.Id, m.Assignment, m.Error)));
        Receive<TrialEvents.TrialCrashed>(m => Apply(_state.TrialCrashed(m.Id, m.Assignment, m.Error, m.AfterEpoch)));
        Receive<RequeueAfterBackoff>(m => Apply(_state.RequeueDue(m.Id)));
        Receive<StartOverdue>(m => Apply(_state.StartOverdue(m.Id, m.Assignment)));
        Receive<SweepQueries.Subscribe>(_ => OnSubscribe(Sender));
        Receive<SweepQueries.CancelSweep>(Interrupt);
        Receive<BudgetExpired>(_ => Stop(SweepStops.BudgetUsedUp(_spec)));
        Receive<SweepQueries.GetStatus>(_ => Sender.Tell(new SweepQueries.SweepStatus(
            _state.Created, _state.Finished, _state.Running, _state.Total, _state.Completed is not null)));
        Receive<FlushOutbox>(_ => Flush());
        Receive<RetryFlush>(_ => Flush(retry: true));
    }

    protected override void PreStart()
    {
        try { Start(); }
        catch (Exception ex)
        {
            _log.Error(ex, "The coordinator of sweep {0} cannot start", _spec.Name);
            _options.OnFatal?.Invoke(new CoordinatorFailure($"the coordinator cannot start: {ex.GetType().Name}: {ex.Message}", null));
            throw;
        }
    }

    private void Start()
    {
        var run = _options.RunDirectory is { } dir ? RunDirectory.At(dir) : null;
        var journaled = run is { HasJournal: true } ? (_journal = run.OpenJournal()).Load() : null;
        if (run is not null && _journal is null) _journal = SweepJournal.Create(run.Path, _spec, _state.StartedAt);
        _journal?.SetBusyTimeout(_options.JournalRetry.BusyTimeout);
        if (_tracing.Start(journaled is null ? null : journaled.TraceParent ?? "") is { } root && _journal is not null) _outbox.Meta("trace_parent", root);
        Apply(_state.Start(journaled?.Trials, journaled?.StartedAt));
        if (journaled is not null)
            _log.Info("Resumed sweep {0} from {1}: {2} of {3} trial(s) already finished", _spec.Name, _journal!.Path, _state.Finished, _state.Created);
        if (SweepStops.BudgetLeft(_spec, journaled?.BudgetFrom ?? _state.StartedAt, DateTimeOffset.UtcNow) is { } left) // used up: fires at once
            Timers.StartSingleTimer(BudgetExpired.Instance, BudgetExpired.Instance, left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
        Flush();
    }

    protected override void PostStop()
    {
        try { Flush(); }
        finally { _journal?.Dispose(); _tracing.Dispose(); }
    }

    private void OnRegister(WorkerCommands.RegisterWorker m)
    {
        var id = _workers.Register(Sender, out var isNew);
        if (isNew)
        {
            Context.Watch(Sender);
            _log.Info("Worker {0} joined with {1} slot(s)", m.Node, m.Slots);
        }
        _outbox.Send(Sender, new WorkerCommands.WorkerRegistered(_incarnation));
        Apply(_state.WorkerJoined(id, m.Node, m.Slots));
    }

    private void OnGone(IActorRef actor)
    {
        if (_outbox.Unsubscribe(actor) || !_workers.Remove(actor, out var id)) return;
        var node = _state.NodeOf(id);
        var effects = _state.WorkerLeft(id);
        _log.Warning("Worker {0} is gone; its {1} running trial(s) are queued again", node, effects.Count(e => e is SweepEffect.QueuedAgain));
        Apply(effects);
    }

    private void OnSubscribe(IActorRef subscriber)
    {
        Flush(); // the snapshot must not run ahead of the journal
        if (!_outbox.Subscribe(subscriber)) return; // watchers repeat Subscribe, so that a new coordinator learns of them
        Context.Watch(subscriber);
        foreach (var t in _state.Trials) subscriber.Tell(new SweepQueries.TrialUpdated(t));
        if (_state.Completed is { } done) subscriber.Tell(new SweepQueries.SweepCompleted(done));
    }

    private void Stop(string reason)
    {
        if (_state.Completed is null) _log.Info("Sweep {0} stops: {1}", _spec.Name, reason);
        Apply(_state.Stop(reason));
    }

    private void Interrupt(SweepQueries.CancelSweep m)
    {
        if (_state.Completed is null)
            _log.Info("Sweep {0} stops{1}: {2}", _spec.Name, m.Graceful ? " after the running trials' current epoch" : "", m.Reason);
        Apply(_state.Interrupt(m.Reason, m.Graceful));
    }

    /// <summary>Carries out what the state decided: into the outbox, the trace, the timers.</summary>
    private void Apply(IReadOnlyList<SweepEffect> effects, IActorRef? ack = null)
    {
        for (int i = 0; i < effects.Count; i++) // by index: an interface's foreach boxes its enumerator, once per result
        {
            var effect = effects[i];
            _tracing.Observe(effect, _state);
            switch (effect)
            {
                case SweepEffect.TrialCreated c: _outbox.Created(new TrialRecord { Config = c.Config }); break;
                case SweepEffect.TrialChanged c:
                    _outbox.Changed(c.After);
                    if (ack is not null && c.After.Checkpoint is { } saved) // sent after the journal holds it
                        _outbox.Send(ack, new WorkerCommands.CheckpointRecorded(c.After.Id, c.After.Assignment, saved.Epoch));
                    break;
                case SweepEffect.EpochRecorded e: _outbox.Epoch(e.Id, e.Result); break;
                case SweepEffect.EpochsDropped d: _outbox.EpochsDropped(d.Id, d.After); break;
                case SweepEffect.StopReasonSet s: _outbox.Meta("stop_reason", s.Reason); break;
                case SweepEffect.StopReasonCleared: _outbox.Meta("stop_reason", null); break;
                case SweepEffect.Assign a when _workers.TryGet(a.Worker, out var worker):
                    _outbox.Send(worker, new WorkerCommands.AssignTrial(a.Trial.Config, a.Assignment, a.Trial.Checkpoint, _options.CheckpointDir,
                        _spec.Checkpoint.IntervalEpochs, _tracing.TraceParentOf(a.Trial), _spec.Crashes.MaxRetries, _spec.Crashes.BackoffSeconds,
                        _spec.Stability.Monitor, _actOn, _spec.Checkpoint.Keep));
                    break;
                case SweepEffect.StopTrial s when _workers.TryGet(s.Worker, out var worker): _outbox.Send(worker, new WorkerCommands.StopTrial(s.Id, s.Reason)); break;
                case SweepEffect.StopAfterEpoch s when _workers.TryGet(s.Worker, out var worker):
                    _outbox.Send(worker, new WorkerCommands.StopAfterEpoch(s.Id, s.Assignment, s.Reason));
                    break;
                case SweepEffect.RequeueLater r: Timers.StartSingleTimer(("requeue", r.Id), new RequeueAfterBackoff(r.Id), r.Delay); break;
                case SweepEffect.AwaitStart w: Timers.StartSingleTimer(("start", w.Id), new StartOverdue(w.Id, w.Assignment), w.Within); break;
                case SweepEffect.SweepCompleted done:
                    _log.Info("Sweep {0} finished: {1} trial(s)", _spec.Name, done.Result.Trials.Count);
                    _outbox.Completed(done.Result);
                    break;
            }
        }
        if (!_outbox.IsEmpty) ScheduleFlush();
    }

    private void ScheduleFlush()
    {
        if (_flushScheduled) return;
        _flushScheduled = true;
        Self.Tell(FlushOutbox.Instance); // handled after the messages already queued: they share one transaction
    }

    private void Flush(bool retry = false)
    {
        _flushScheduled = false;
        if ((_failures.Count > 0 && !retry) || _outbox.IsEmpty) return;
        try
        {
            _outbox.Flush(_journal, Self);
            _failures.Succeeded();
        }
        catch (Exception ex) { WriteFailed(ex); }
    }

    /// <summary>Retries later, or — the retries used up — fails the sweep: the host is told, the coordinator stops.</summary>
    private void WriteFailed(Exception ex)
    {
        if (_failures.Failed(ex, _journal?.Path, out var message) is { } delay)
        {
            _log.Warning(message);
            Timers.StartSingleTimer(RetryFlush.Instance, RetryFlush.Instance, delay);
            return;
        }
        if (_options.OnFatal is null) _log.Error("Sweep {0} failed: {1}", _spec.Name, message);
        else _log.Warning("Sweep {0} failed: {1}", _spec.Name, message); // its host reports it
        _options.OnFatal?.Invoke(new CoordinatorFailure(message, _state.SoFar(message)));
        Context.Stop(Self);
    }

    private sealed record RequeueAfterBackoff(TrialId Id) : INoSerializationVerificationNeeded;

    private sealed record StartOverdue(TrialId Id, int Assignment) : INoSerializationVerificationNeeded;

    private sealed record RetryFlush : INoSerializationVerificationNeeded { public static readonly RetryFlush Instance = new(); }

    private sealed record BudgetExpired : INoSerializationVerificationNeeded { public static readonly BudgetExpired Instance = new(); }

    private sealed record FlushOutbox : INoSerializationVerificationNeeded { public static readonly FlushOutbox Instance = new(); }
}
