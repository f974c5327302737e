using Akka.Actor;
using Akka.Event;
using Akka.Pattern;
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
    private readonly Dictionary<IActorRef, (WorkerCommands.AssignTrial Assign, IActorRef Coordinator)> _running = new();
    /// <summary>Each running assignment's latest crash, for the reason it fails with once its retries are spent.</summary>
    private readonly Dictionary<(TrialId, int), string> _lastCrash = new();
    private readonly Dictionary<TrialId, (WorkerCommands.AssignTrial Assign, IActorRef Coordinator)> _waiting = new();
    private readonly HashSet<(TrialId, int)> _ended = new(); // runs over on purpose (finished, unstable, stopped): no TrialFailed
    private readonly Dictionary<(TrialId, int), CancellationTokenSource> _stopAfterEpoch = new(); // per running assignment
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
                _log.Warning("Worker {0}: the coordinator was started again; stopping {1} run(s) it no longer knows", _node, _running.Count);
                StopAll();
            }
            else _log.Info("Worker {0} registered with {1} slot(s)", _node, _slots);
            _coordinator = m.Coordinator;
        });
        Receive<WorkerCommands.AssignTrial>(m =>
        {
            if (_fenced) return;
            var child = Context.Child(TrialActor.NameOf(m.Config.Id));
            if (child.IsNobody())
            {
                Start(m, Sender);
                return;
            }
            if (_running.TryGetValue(child, out var run) && run.Assign.Assignment >= m.Assignment)
            {
                _log.Warning("Trial {0} is already running here as assignment {1}; ignoring assignment {2}", m.Config.Id, run.Assign.Assignment, m.Assignment);
                return;
            }
            // The coordinator gave up on the previous run: it stops first, then this one starts.
            _waiting[m.Config.Id] = (m, Sender);
            StopRun(child);
        });
        Receive<TrialActor.RunEnded>(m => _ended.Add((m.Id, m.Assignment)));
        Receive<TrialActor.RunCrashedNote>(m => _lastCrash[(m.Id, m.Assignment)] = m.Error);
        Receive<Terminated>(m =>
        {
            if (!_running.Remove(m.ActorRef, out var run)) return;
            var id = run.Assign.Config.Id;
            if (_stopAfterEpoch.Remove((id, run.Assign.Assignment), out var graceful)) graceful.Dispose();
            _lastCrash.Remove((id, run.Assign.Assignment), out var lastError);
            if (!_ended.Remove((id, run.Assign.Assignment)))
                run.Coordinator.Tell(new TrialEvents.TrialFailed(id, run.Assign.Assignment,
                    $"crashed {run.Assign.CrashRetries + 1} time(s); gave up" + (lastError is null ? " (see the trial's crashes)" : "; last: " + lastError)));
            if (_waiting.Remove(id, out var next)) Start(next.Assign, next.Coordinator);
        });
        Receive<WorkerCommands.StopTrial>(m =>
        {
            _waiting.Remove(m.Id);
            StopRun(Context.Child(TrialActor.NameOf(m.Id)));
        });
        Receive<WorkerCommands.StopAfterEpoch>(m =>
        {
            if (_stopAfterEpoch.TryGetValue((m.Id, m.Assignment), out var graceful)) graceful.Cancel();
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
            _log.Error("Worker {0} is fenced ({1}): stopping {2} run(s)", _node, m.Reason, _running.Count);
            StopAll();
        });
    }

    protected override void PreStart()
    {
        Self.Tell(Register.Instance);
        Timers.StartPeriodicTimer(RegisterTimer, Register.Instance, RegisterInterval);
    }

    private void Start(WorkerCommands.AssignTrial m, IActorRef coordinator)
    {
        // Crashes (exceptions in the trainable) are Akka's business: a backoff supervisor restarts the trial
        // actor, which continues from its newest checkpoint, up to CrashRetries times.
        var backoff = TimeSpan.FromSeconds(m.CrashBackoffSeconds);
        // The crash is recorded with the trial (TrialCrashed); the supervisor restarts without logging a stack trace.
        var restartQuietly = new OneForOneStrategy(m.CrashRetries, -1, _ => Directive.Restart, loggingEnabled: false);
        var graceful = new CancellationTokenSource();
        _stopAfterEpoch[(m.Config.Id, m.Assignment)] = graceful;
        var supervisor = Context.ActorOf(BackoffSupervisor.Props(
            Backoff.OnFailure(TrialActor.Props(m, _factory, coordinator, _node, Self, stopAfterEpoch: graceful.Token), "run", backoff, backoff * 8, 0.2, m.CrashRetries)
                .WithSupervisorStrategy(restartQuietly)), TrialActor.NameOf(m.Config.Id));
        Context.Watch(supervisor);
        _running[supervisor] = (m, coordinator);
    }

    /// <summary>Stops a run on purpose (no TrialFailed when it has stopped).</summary>
    private void StopRun(IActorRef supervisor)
    {
        if (supervisor.IsNobody()) return;
        if (_running.TryGetValue(supervisor, out var run)) _ended.Add((run.Assign.Config.Id, run.Assign.Assignment));
        Context.Stop(supervisor);
    }

    private void StopAll()
    {
        _waiting.Clear();
        foreach (var supervisor in _running.Keys.ToList()) StopRun(supervisor);
    }

    private sealed record Register : INoSerializationVerificationNeeded
    {
        public static readonly Register Instance = new();
    }
}
