using Akka.Actor;
using Akka.Event;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Trials;

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
            Context.ActorOf(TrialActor.Props(m, _factory, Sender, _node), name);
        });
        Receive<WorkerCommands.StopTrial>(m => Context.Stop(Context.Child(TrialActor.NameOf(m.Id))));
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
