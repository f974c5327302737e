using Akka.Actor;
using Akka.Event;
using Sweeper.Cluster.Journal;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// One per worker node: registers its slots with the coordinator (through the singleton proxy, again and again, so a
/// coordinator started again or moved to another node learns of it) and starts a <see cref="TrialActor"/> for every
/// trial it is assigned. When the coordinator answers with a new incarnation, the runs it had are orphans: they are
/// stopped. An assignment of a trial whose previous run is still stopping waits until that run has stopped.
/// On <see cref="Fence"/> (the node is cut off from the coordinator) every run stops and nothing new starts.
/// <see cref="WorkerCommands.StopAfterEpoch"/> lets a run finish its current epoch and checkpoint before it stops.
/// <para>
/// The worker supervises its trial actors itself: a run whose trainable crashed (or whose actor failed) is stopped and,
/// after the <see cref="CrashBackoff"/> delay, started again as a new trial actor on the same checkpoint store — it
/// continues from its newest checkpoint — up to <see cref="WorkerCommands.AssignTrial.CrashRetries"/> times; then the
/// coordinator is told the trial failed. (This replaced a backoff supervisor actor per trial, which cost a second actor,
/// its messages and its timer for every trial, crash or not.)
/// </para>
/// </summary>
public sealed class WorkerActor : ReceiveActor, IWithTimers
{
    public const string Name = "worker";
    private const string RegisterTimer = "register";

    /// <summary>How often the worker registers again (the coordinator counts it once).</summary>
    public static readonly TimeSpan RegisterInterval = TimeSpan.FromSeconds(1);

    private readonly int _slots;
    private readonly ITrainableFactory _factory;
    private readonly IActorRef _coordinatorProxy;
    private readonly string _node;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    /// <summary>Every run this worker has: running, or waiting for its backoff after a crash.</summary>
    private readonly Dictionary<TrialId, Run> _runs = new();
    private readonly Dictionary<IActorRef, Run> _byActor = new();
    private readonly Dictionary<TrialId, (WorkerCommands.AssignTrial Assign, IActorRef Coordinator)> _waiting = new();
    private readonly Random _random = new();
    private string? _coordinator;
    private bool _fenced;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(int slots, ITrainableFactory factory, IActorRef coordinatorProxy) =>
        Akka.Actor.Props.Create(() => new WorkerActor(slots, factory, coordinatorProxy));

    /// <summary>Asks whether the coordinator has confirmed this worker's registration; answered with a <see cref="bool"/>.</summary>
    public sealed record RegistrationQuery : INoSerializationVerificationNeeded
    {
        public static readonly RegistrationQuery Instance = new();
        private RegistrationQuery() { }
    }

    /// <summary>Stop every run and take no more: this node is cut off from the coordinator (see <see cref="WorkerFenceActor"/>).</summary>
    public sealed record Fence(string Reason) : INoSerializationVerificationNeeded;

    public WorkerActor(int slots, ITrainableFactory factory, IActorRef coordinatorProxy)
    {
        _slots = slots;
        _factory = factory;
        _coordinatorProxy = coordinatorProxy;
        _node = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();

        Receive<Register>(_ => _coordinatorProxy.Tell(new WorkerCommands.RegisterWorker(_node, _slots)));
        Receive<RegistrationQuery>(_ => Sender.Tell(_coordinator is not null && !_fenced));
        Receive<WorkerCommands.WorkerRegistered>(m =>
        {
            if (m.Coordinator == _coordinator) return;
            if (_coordinator is not null)
            {
                _log.Warning("Worker {0}: the coordinator was started again; stopping {1} run(s) it no longer knows", _node, _runs.Count);
                StopAll();
            }
            else _log.Info("Worker {0} registered with {1} slot(s)", _node, _slots);
            _coordinator = m.Coordinator;
        });
        Receive<WorkerCommands.AssignTrial>(m =>
        {
            if (_fenced) return;
            if (!_runs.TryGetValue(m.Config.Id, out var run))
            {
                Start(m, Sender);
                return;
            }
            if (run.Assign.Assignment >= m.Assignment)
            {
                _log.Warning("Trial {0} is already running here as assignment {1}; ignoring assignment {2}", m.Config.Id, run.Assign.Assignment, m.Assignment);
                return;
            }
            // The coordinator gave up on the previous run: it stops first, then this one starts.
            _waiting[m.Config.Id] = (m, Sender);
            StopRun(run);
        });
        Receive<TrialActor.RunEnded>(m => { if (RunOf(m.Id, m.Assignment) is { } run) run.Ended = true; });
        Receive<TrialActor.RunCrashedNote>(m => { if (RunOf(m.Id, m.Assignment) is { } run) run.LastCrash = m.Error; });
        Receive<Terminated>(m =>
        {
            if (!_byActor.Remove(m.ActorRef, out var run)) return;
            run.Actor = null;
            if (run.Ended) Finish(run);
            else Crashed(run);
        });
        Receive<RestartRun>(m =>
        {
            if (RunOf(m.Id, m.Assignment) is { Actor: null, Ended: false } run) Spawn(run);
        });
        Receive<WorkerCommands.StopTrial>(m =>
        {
            _waiting.Remove(m.Id);
            if (_runs.TryGetValue(m.Id, out var run)) StopRun(run);
        });
        Receive<WorkerCommands.StopAfterEpoch>(m =>
        {
            if (RunOf(m.Id, m.Assignment) is { } run) run.Graceful.Cancel(); // one waiting for its restart stops at once when it starts
            else if (_waiting.TryGetValue(m.Id, out var next) && next.Assign.Assignment == m.Assignment)
            {
                // Never started (its previous run is still stopping): it stops where it would have started.
                _waiting.Remove(m.Id);
                next.Coordinator.Tell(new TrialEvents.TrialPaused(m.Id, m.Assignment, next.Assign.ResumeFrom?.Epoch ?? 0));
            }
        });
        Receive<Fence>(m =>
        {
            if (_fenced) return;
            _fenced = true;
            Timers.Cancel(RegisterTimer);
            _log.Error("Worker {0} is fenced ({1}): stopping {2} run(s)", _node, m.Reason, _runs.Count);
            StopAll();
        });
    }

    /// <summary>
    /// A trial actor that fails (its trainable crashed: <see cref="TrialActor.TrialCrashedException"/>, or anything else)
    /// is stopped; its termination decides whether it starts again (see <see cref="Crashed"/>). The crash is recorded with
    /// the trial (TrialCrashed), so no stack trace is logged.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => StopFailed;

    private static readonly OneForOneStrategy StopFailed = new(_ => Directive.Stop, loggingEnabled: false);

    protected override void PreStart()
    {
        Self.Tell(Register.Instance);
        Timers.StartPeriodicTimer(RegisterTimer, Register.Instance, RegisterInterval);
    }

    private Run? RunOf(TrialId id, int assignment) => _runs.TryGetValue(id, out var run) && run.Assign.Assignment == assignment ? run : null;

    private void Start(WorkerCommands.AssignTrial m, IActorRef coordinator)
    {
        // Every restart of this run shares the checkpoint store (it continues from the newest checkpoint this assignment
        // saved) and the stop-after-epoch token.
        var run = new Run(m, coordinator, new CheckpointStore(m.CheckpointDir, m.CheckpointKeep));
        _runs[m.Config.Id] = run;
        Spawn(run);
    }

    private void Spawn(Run run)
    {
        var actor = Context.ActorOf(TrialActor.Props(run.Assign, _factory, run.Coordinator, _node, Self, run.Checkpoints, run.Graceful.Token),
            TrialActor.NameOf(run.Assign.Config.Id));
        Context.Watch(actor);
        run.Actor = actor;
        _byActor[actor] = run;
    }

    /// <summary>The run's actor failed: it starts again after its backoff, or — its retries used up — the trial failed.</summary>
    private void Crashed(Run run)
    {
        var m = run.Assign;
        if (run.Restarts < m.CrashRetries)
        {
            var delay = CrashBackoff.Delay(run.Restarts, TimeSpan.FromSeconds(m.CrashBackoffSeconds), _random.NextDouble());
            run.Restarts++;
            Timers.StartSingleTimer(("restart", m.Config.Id), new RestartRun(m.Config.Id, m.Assignment), delay);
            return;
        }
        run.Coordinator.Tell(new TrialEvents.TrialFailed(m.Config.Id, m.Assignment,
            $"crashed {m.CrashRetries + 1} time(s); gave up" + (run.LastCrash is null ? " (see the trial's crashes)" : "; last: " + run.LastCrash)));
        Finish(run);
    }

    /// <summary>The run is over: its slot is free; an assignment that waited for it starts.</summary>
    private void Finish(Run run)
    {
        var id = run.Assign.Config.Id;
        Timers.Cancel(("restart", id));
        _runs.Remove(id);
        run.Graceful.Dispose();
        if (_waiting.Remove(id, out var next)) Start(next.Assign, next.Coordinator);
    }

    /// <summary>Stops a run on purpose (no TrialFailed when it has stopped); one waiting for its restart is over at once.</summary>
    private void StopRun(Run run)
    {
        run.Ended = true;
        if (run.Actor is { } actor) Context.Stop(actor);
        else Finish(run);
    }

    private void StopAll()
    {
        _waiting.Clear();
        foreach (var run in _runs.Values.ToList()) StopRun(run);
    }

    /// <summary>One assignment of one trial on this worker, across its restarts after crashes.</summary>
    private sealed class Run(WorkerCommands.AssignTrial assign, IActorRef coordinator, CheckpointStore checkpoints)
    {
        public WorkerCommands.AssignTrial Assign { get; } = assign;
        public IActorRef Coordinator { get; } = coordinator;
        public CheckpointStore Checkpoints { get; } = checkpoints;
        /// <summary>Fires when the run is to stop after its current epoch (<see cref="WorkerCommands.StopAfterEpoch"/>).</summary>
        public CancellationTokenSource Graceful { get; } = new();
        /// <summary>The actor running it now; null while it waits for its backoff after a crash.</summary>
        public IActorRef? Actor { get; set; }
        /// <summary>Over on purpose (finished, unstable, paused, stopped): its termination is no crash.</summary>
        public bool Ended { get; set; }
        public int Restarts { get; set; }
        /// <summary>The latest crash, for the reason it fails with once its retries are used up.</summary>
        public string? LastCrash { get; set; }
    }

    private sealed record RestartRun(TrialId Id, int Assignment) : INoSerializationVerificationNeeded;

    private sealed record Register : INoSerializationVerificationNeeded
    {
        public static readonly Register Instance = new();
    }
}
