using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Sweeper.Cluster.Hosting;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// On a worker-only node: fences the worker when the coordinator's side has given up on this node — this node was downed
/// or removed (not by leaving), or the coordinator's node has been unreachable for longer than the split brain resolver
/// waits before downing (<c>stable-after</c>: by then the coordinator's side downs this node and runs its trials
/// elsewhere). The worker stops every run at once (<see cref="WorkerActor.Fence"/>) and the host is told, to exit.
/// </summary>
public sealed class WorkerFenceActor : ReceiveActor, IWithTimers
{
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _worker;
    private readonly Action<string>? _onFenced;
    private readonly TimeSpan _after;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<Member> _coordinators = new();
    private readonly HashSet<UniqueAddress> _unreachable = new();
    private bool _leaving;
    private bool _fenced;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="after">How long the coordinator's node may stay unreachable (null: the split brain resolver's stable-after).</param>
    public static Props Props(IActorRef worker, Action<string>? onFenced, TimeSpan? after = null) =>
        Akka.Actor.Props.Create(() => new WorkerFenceActor(worker, onFenced, after));

    public WorkerFenceActor(IActorRef worker, Action<string>? onFenced, TimeSpan? after)
    {
        _worker = worker;
        _onFenced = onFenced;
        _after = after ?? Context.System.Settings.Config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after", TimeSpan.FromSeconds(7));

        Receive<ClusterEvent.MemberUp>(m => Joined(m.Member));
        Receive<ClusterEvent.MemberWeaklyUp>(m => Joined(m.Member));
        Receive<ClusterEvent.MemberLeft>(m => { if (IsSelf(m.Member)) _leaving = true; });
        Receive<ClusterEvent.MemberExited>(m => { if (IsSelf(m.Member)) _leaving = true; });
        Receive<ClusterEvent.MemberDowned>(m =>
        {
            if (IsSelf(m.Member)) Fenced("this node was downed by the cluster (the coordinator's side no longer reaches it)");
        });
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            if (IsSelf(m.Member)) SelfRemoved();
            else
            {
                _coordinators.RemoveWhere(c => c.UniqueAddress.Equals(m.Member.UniqueAddress));
                _unreachable.Remove(m.Member.UniqueAddress);
                Check();
            }
        });
        Receive<SelfRemovedNotice>(_ => SelfRemoved());
        Receive<ClusterEvent.UnreachableMember>(m => { _unreachable.Add(m.Member.UniqueAddress); Check(); });
        Receive<ClusterEvent.ReachableMember>(m => { _unreachable.Remove(m.Member.UniqueAddress); Check(); });
        Receive<CoordinatorUnreachable>(m => Fenced($"the coordinator's node {m.Address} has been unreachable for more than {_after.TotalSeconds:0.#} s"));
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
    }

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        var self = Self;
        _cluster.RegisterOnMemberRemoved(() => self.Tell(SelfRemovedNotice.Instance));
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private bool IsSelf(Member m) => m.UniqueAddress.Equals(_cluster.SelfUniqueAddress);

    private void Joined(Member m)
    {
        if (m.HasRole(SweeperRoles.Coordinator)) _coordinators.Add(m);
    }

    private void SelfRemoved()
    {
        // Leaving on purpose (the sweep ended, the process is asked to stop) runs a coordinated shutdown for another reason.
        var reason = CoordinatedShutdown.Get(Context.System).ShutdownReason;
        if (!_leaving && (reason is null || reason is CoordinatedShutdown.ClusterDowningReason)) Fenced("this node was removed from the cluster");
    }

    /// <summary>The coordinator runs on the oldest coordinator node: a timer runs while that node is unreachable.</summary>
    private void Check()
    {
        var oldest = _coordinators.Where(c => !IsSelf(c)).OrderBy(c => c, Member.AgeOrdering).FirstOrDefault();
        if (oldest is not null && _unreachable.Contains(oldest.UniqueAddress))
        {
            if (!Timers.IsTimerActive("fence")) Timers.StartSingleTimer("fence", new CoordinatorUnreachable(oldest.Address), _after);
        }
        else Timers.Cancel("fence");
    }

    private void Fenced(string reason)
    {
        if (_fenced || _leaving) return;
        _fenced = true;
        _log.Error("Worker fenced: {0}", reason);
        _worker.Tell(new WorkerActor.Fence(reason));
        _onFenced?.Invoke(reason);
    }

    private sealed record CoordinatorUnreachable(Address Address) : INoSerializationVerificationNeeded;

    private sealed record SelfRemovedNotice : INoSerializationVerificationNeeded { public static readonly SelfRemovedNotice Instance = new(); }
}
