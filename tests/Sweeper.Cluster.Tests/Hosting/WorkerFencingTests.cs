using Akka.Actor;
using Akka.Cluster;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Hosting;

namespace Sweeper.Cluster.Tests.Hosting;

/// <summary>A worker node the coordinator's side gave up on stops its trials at once and tells its host.</summary>
public sealed class WorkerFencingTests
{
    private static async Task Until(Func<bool> condition, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (!condition()) await Task.Delay(20, cancel.Token);
    }

    [Fact]
    public async Task Worker_DownedByTheCoordinatorsSide_StopsItsTrialAndReportsFenced()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 2);
        var factory = new FakeTrainableFactory { Gate = new ManualResetEventSlim(false) }; // the trial runs until stopped
        var fenced = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var coordinator = await TestNode.CoordinatorAsync(spec, TestSpecs.Trials(spec, 0.1));
        await using var worker = await TestNode.WorkerAsync(coordinator.Address, 1, factory, onFenced: r => fenced.TrySetResult(r));
        await Until(() => factory.Running == 1, TimeSpan.FromSeconds(20));

        var cluster = Akka.Cluster.Cluster.Get(coordinator.System);
        cluster.Down(Akka.Cluster.Cluster.Get(worker.System).SelfAddress);

        var reason = await fenced.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Matches("downed|removed", reason);
        await Until(() => factory.Running == 0, TimeSpan.FromSeconds(10)); // its run was stopped
        Assert.Equal(1, factory.Created);
    }

    [Fact]
    public async Task CoordinatorNodeUnreachable_LongerThanTheDowningWait_Fenced_ReachableAgainInTime_NotFenced()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1);
        await using var coordinator = await TestNode.CoordinatorAsync(spec, TestSpecs.Trials(spec, 0.1));
        // The trial runs until stopped: a sweep that finished would take the coordinator's node out of the cluster
        // before its member is read (seen in CI: status Removed).
        var factory = new FakeTrainableFactory { Gate = new ManualResetEventSlim(false) };
        await using var worker = await TestNode.WorkerAsync(coordinator.Address, 1, factory);
        await Until(() => factory.Running == 1, TimeSpan.FromSeconds(20));
        var coordinatorMember = Akka.Cluster.Cluster.Get(coordinator.System).SelfMember;
        Assert.Equal(MemberStatus.Up, coordinatorMember.Status);
        var fenced = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        // A second fence on the worker node, with a short wait, told of reachability changes as the cluster would.
        var fence = worker.System.ActorOf(WorkerFenceActor.Props(ActorRefs.Nobody, r => fenced.TrySetResult(r), TimeSpan.FromMilliseconds(300)));
        fence.Tell(new ClusterEvent.MemberUp(coordinatorMember));

        fence.Tell(new ClusterEvent.UnreachableMember(coordinatorMember));
        fence.Tell(new ClusterEvent.ReachableMember(coordinatorMember));
        await Assert.ThrowsAsync<TimeoutException>(() => fenced.Task.WaitAsync(TimeSpan.FromMilliseconds(900))); // back in time: nothing

        fence.Tell(new ClusterEvent.UnreachableMember(coordinatorMember));
        var reason = await fenced.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal($"the coordinator's node {coordinatorMember.Address} has been unreachable for more than 0.3 s", reason);
    }
}
