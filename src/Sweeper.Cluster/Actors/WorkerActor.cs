using Akka.Actor;
using Akka.Event;
using Akka.Pattern;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// One per worker node: registers its slots with the coordinator (through the singleton proxy, until acknowledged)
/// and starts a <see cref="TrialActor"/> for every trial it is assigned.
/// </summary>
public sealed class WorkerActor : ReceiveActor, IWithTimers
{
    public const string Name = "worker";
    private const string RegisterTimer = "register";

    private readonly int _slots;
    private readonly ITrainableFactory _factory;
    private readonly IActorRef _coordinatorProxy;
    private readonly string _node;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<IActorRef, (WorkerCommands.AssignTrial Assign, IActorRef Coordinator)> _running = new();
    private readonly HashSet<TrialId> _ended = new();
    private readonly HashSet<TrialId> _stopped = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(int slots, ITrainableFactory factory, IActorRef coordinatorProxy) =>
        Akka.Actor.Props.Create(() => new WorkerActor(slots, factory, coordinatorProxy));

    public WorkerActor(int slots, ITrainableFactory factory, IActorRef coordinatorProxy)
    {
        _slots = slots;
        _factory = factory;
        _coordinatorProxy = coordinatorProxy;
        _node = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();

        Receive<Register>(_ => _coordinatorProxy.Tell(new WorkerCommands.RegisterWorker(_node, _slots)));
        Receive<WorkerCommands.WorkerRegistered>(_ =>
        {
            Timers.Cancel(RegisterTimer);
            _log.Info("Worker {0} registered with {1} slot(s)", _node, _slots);
        });
        Receive<WorkerCommands.AssignTrial>(m =>
        {
            var name = TrialActor.NameOf(m.Config.Id);
            if (!Context.Child(name).IsNobody())
            {
                _log.Warning("Trial {0} is already running here; ignoring a second assignment", m.Config.Id);
                return;
            }
            // Crashes (exceptions in the trainable) are Akka's business: a backoff supervisor restarts the trial
            // actor, which continues from its newest checkpoint, up to CrashRetries times.
            var backoff = TimeSpan.FromSeconds(m.CrashBackoffSeconds);
            // The crash is recorded with the trial (TrialCrashed); the supervisor restarts without logging a stack trace.
            var restartQuietly = new OneForOneStrategy(m.CrashRetries, -1, _ => Directive.Restart, loggingEnabled: false);
            var supervisor = Context.ActorOf(BackoffSupervisor.Props(
                Backoff.OnFailure(TrialActor.Props(m, _factory, Sender, _node, Self), "run", backoff, backoff * 8, 0.2, m.CrashRetries)
                    .WithSupervisorStrategy(restartQuietly)), name);
            Context.Watch(supervisor);
            _running[supervisor] = (m, Sender);
        });
        Receive<TrialActor.RunEnded>(m => _ended.Add(m.Id));
        Receive<Terminated>(m =>
        {
            if (!_running.Remove(m.ActorRef, out var run)) return;
            if (!_ended.Remove(run.Assign.Config.Id) && !_stopped.Remove(run.Assign.Config.Id))
                run.Coordinator.Tell(new TrialEvents.TrialFailed(run.Assign.Config.Id, run.Assign.Assignment,
                    $"crashed {run.Assign.CrashRetries + 1} time(s); gave up (see the trial's crashes)"));
        });
        Receive<WorkerCommands.StopTrial>(m =>
        {
            _stopped.Add(m.Id);
            Context.Stop(Context.Child(TrialActor.NameOf(m.Id)));
        });
    }

    protected override void PreStart()
    {
        Self.Tell(Register.Instance);
        Timers.StartPeriodicTimer(RegisterTimer, Register.Instance, TimeSpan.FromSeconds(1));
    }

    private sealed record Register : INoSerializationVerificationNeeded
    {
        public static readonly Register Instance = new();
    }
}
