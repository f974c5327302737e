using Akka.Actor;
using Akka.Event;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// The one place that changes a trial's state. Hands trials to free worker slots, records every result, requeues the
/// trials of a worker that went away, and tells subscribers of every change and of the sweep's end.
/// </summary>
public sealed class SweepCoordinatorActor : ReceiveActor
{
    public const string Name = "sweep-coordinator";

    private readonly SweepSpec _spec;
    private readonly Dictionary<TrialId, TrialResult> _trials;
    private readonly LinkedList<TrialId> _pending;
    private readonly Dictionary<IActorRef, WorkerSlots> _workers = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;
    private SweepResult? _completed;

    public static Props Props(SweepSpec spec, IReadOnlyList<TrialConfig> trials) =>
        Akka.Actor.Props.Create(() => new SweepCoordinatorActor(spec, trials));

    public SweepCoordinatorActor(SweepSpec spec, IReadOnlyList<TrialConfig> trials)
    {
        _spec = spec;
        _trials = trials.ToDictionary(t => t.Id, t => new TrialResult { Config = t });
        _pending = new LinkedList<TrialId>(trials.Select(t => t.Id));

        Receive<WorkerCommands.RegisterWorker>(OnRegister);
        Receive<Terminated>(m => OnWorkerGone(m.ActorRef));
        Receive<TrialEvents.TrialStarted>(m => Update(m.Id, t => t with { Worker = m.Node }));
        Receive<TrialEvents.EpochCompleted>(m => Update(m.Id, t => t with { Epochs = [.. t.Epochs, m.Result] }));
        Receive<TrialEvents.TrialCompleted>(m => Finish(m.Id, TrialState.Completed, null));
        Receive<TrialEvents.TrialFailed>(m => Finish(m.Id, TrialState.Failed, m.Error));
        Receive<SweepQueries.Subscribe>(_ => OnSubscribe(Sender));
        Receive<SweepQueries.CancelSweep>(m => OnCancel(m.Reason));
    }

    protected override void PreStart() => CompleteIfDone();

    private void OnRegister(WorkerCommands.RegisterWorker m)
    {
        if (!_workers.ContainsKey(Sender))
        {
            _workers[Sender] = new WorkerSlots(m.Node, m.Slots);
            Context.Watch(Sender);
            _log.Info("Worker {0} joined with {1} slot(s)", m.Node, m.Slots);
        }
        Sender.Tell(WorkerCommands.WorkerRegistered.Instance);
        Dispatch();
    }

    private void OnSubscribe(IActorRef subscriber)
    {
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
            Update(id, t => t.MoveTo(TrialState.Pending) with { Worker = null, Epochs = [] });
            _pending.AddFirst(id);
        }
        Dispatch();
    }

    private void Dispatch()
    {
        while (_pending.Count > 0 && _completed is null)
        {
            var (worker, slots) = _workers.Where(w => w.Value.Free > 0).OrderByDescending(w => w.Value.Free).FirstOrDefault();
            if (worker is null) return;
            var id = _pending.First!.Value;
            _pending.RemoveFirst();
            slots.Running.Add(id);
            Update(id, t => t.MoveTo(TrialState.Running) with { Worker = slots.Node, StartedAt = DateTimeOffset.UtcNow });
            worker.Tell(new WorkerCommands.AssignTrial(_trials[id].Config));
        }
    }

    private void Finish(TrialId id, TrialState state, string? reason)
    {
        if (!_trials.TryGetValue(id, out var trial) || trial.State != TrialState.Running) return;
        foreach (var w in _workers.Values) w.Running.Remove(id);
        Update(id, t => t.MoveTo(state) with { FinishedAt = DateTimeOffset.UtcNow, Reason = reason });
        Dispatch();
        CompleteIfDone();
    }

    private void OnCancel(string reason)
    {
        foreach (var id in _pending) Update(id, t => t.MoveTo(TrialState.Stopped) with { Reason = reason });
        _pending.Clear();
        foreach (var (worker, slots) in _workers)
            foreach (var id in slots.Running.ToList())
            {
                worker.Tell(new WorkerCommands.StopTrial(id, reason));
                slots.Running.Remove(id);
                Update(id, t => t.MoveTo(TrialState.Stopped) with { FinishedAt = DateTimeOffset.UtcNow, Reason = reason });
            }
        CompleteIfDone();
    }

    private void Update(TrialId id, Func<TrialResult, TrialResult> change)
    {
        if (!_trials.TryGetValue(id, out var trial)) return;
        var updated = change(trial);
        _trials[id] = updated;
        foreach (var s in _subscribers) s.Tell(new SweepQueries.TrialUpdated(updated));
    }

    private void CompleteIfDone()
    {
        if (_completed is not null || _trials.Values.Any(t => !t.State.IsTerminal())) return;
        _completed = new SweepResult(_spec.Name, _spec.Objective, _trials.Values.OrderBy(t => t.Id.Index).ToList(), _startedAt, DateTimeOffset.UtcNow);
        _log.Info("Sweep {0} finished: {1} trial(s)", _spec.Name, _trials.Count);
        foreach (var s in _subscribers) s.Tell(new SweepQueries.SweepCompleted(_completed));
    }

    private sealed class WorkerSlots(string node, int slots)
    {
        public string Node { get; } = node;
        public HashSet<TrialId> Running { get; } = new();
        public int Free => slots - Running.Count;
    }
}
