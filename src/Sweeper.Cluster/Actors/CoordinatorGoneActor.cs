using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Sweeper.Cluster.Hosting;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// On a worker-only node: once a coordinator has been seen and then no coordinator is left in the cluster (the sweep
/// ended, or its node died), leaves the cluster and shuts the node down.
/// </summary>
public sealed class CoordinatorGoneActor : ReceiveActor
{
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly HashSet<Address> _coordinators = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public CoordinatorGoneActor()
    {
        Receive<ClusterEvent.CurrentClusterState>(s =>
        {
            foreach (var m in s.Members.Where(IsCoordinator)) _coordinators.Add(m.Address);
        });
        Receive<ClusterEvent.MemberUp>(m => { if (IsCoordinator(m.Member)) _coordinators.Add(m.Member.Address); });
        Receive<ClusterEvent.MemberRemoved>(m => Gone(m.Member));
        Receive<ClusterEvent.MemberExited>(m => Gone(m.Member));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private static bool IsCoordinator(Member m) => m.HasRole(SweeperRoles.Coordinator);

    private void Gone(Member member)
    {
        if (!IsCoordinator(member) || !_coordinators.Remove(member.Address) || _coordinators.Count > 0) return;
        _log.Info("The coordinator {0} left the cluster; this worker leaves too", member.Address);
        CoordinatedShutdown.Get(Context.System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
    }
}
