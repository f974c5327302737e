using System.Net;
using System.Net.Sockets;
using Akka.Cluster;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Hosting;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Tests.Hosting;

/// <summary>A worker node with config discovery and no seed joins through Cluster Bootstrap; its readiness follows.</summary>
public sealed class DiscoveryJoinTests
{
    private static int FreePort() => Sweeper.Tests.Shared.TestPorts.Free();

    private static async Task<HealthStatus> ReadinessAsync(TestNode node) =>
        (await node.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains(SweeperManagement.ReadyTag))).Status;

    private static async Task Until(Func<Task<bool>> condition, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (!await condition()) await Task.Delay(100, cancel.Token);
    }

    [Fact]
    public async Task WorkerWithConfigDiscovery_StartedBeforeTheCoordinator_JoinsItAndRunsTheTrial_ReadyOnlyThen()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1);
        var factory = new FakeTrainableFactory { Gate = new ManualResetEventSlim(false) }; // the trial runs until the test ends
        var (coordinatorPort, workerPort) = (FreePort(), FreePort());
        var management = new ManagementOptions("127.0.0.1", workerPort, new ConfigDiscovery([$"127.0.0.1:{coordinatorPort}"]));
        await using var worker = await TestNode.StartAsync(a => a
            .AddSweeperCluster("127.0.0.1", 0, [SweeperRoles.Worker], [], management: management)
            .AddSweeperWorker(1, factory, leaveWithCoordinator: true));
        await using var workerEndpoint = await SweeperManagement.StartAsync(worker.System, worker.Services, management);
        await Task.Delay(TimeSpan.FromSeconds(2)); // a few bootstrap rounds with no coordinator to answer
        Assert.Equal(MemberStatus.Removed, Akka.Cluster.Cluster.Get(worker.System).SelfMember.Status); // it formed no cluster alone
        Assert.Equal(HealthStatus.Unhealthy, await ReadinessAsync(worker));

        var coordinatorManagement = new ManagementOptions("127.0.0.1", coordinatorPort);
        await using var coordinator = await TestNode.StartAsync(a => a
            .AddSweeperCluster("127.0.0.1", 0, [SweeperRoles.Coordinator], [], management: coordinatorManagement)
            .AddSweeperCoordinator(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1)), new CoordinatorOptions(null, Path.Combine(Path.GetTempPath(), "sweeper-ckpt-" + Guid.NewGuid().ToString("N")))));
        await using var coordinatorEndpoint = await SweeperManagement.StartAsync(coordinator.System, coordinator.Services, coordinatorManagement);

        await Until(() => Task.FromResult(factory.Running == 1), TimeSpan.FromSeconds(30));
        await Until(async () => await ReadinessAsync(worker) == HealthStatus.Healthy, TimeSpan.FromSeconds(10));
        Assert.Contains(Akka.Cluster.Cluster.Get(worker.System).State.Members, m => m.HasRole(SweeperRoles.Coordinator));
        Assert.Equal(HealthStatus.Healthy, await ReadinessAsync(coordinator));
        factory.Gate!.Set();
    }

    [Fact]
    public async Task SeedNodesAndDiscoveryTogether_Refused()
    {
        var management = new ManagementOptions("127.0.0.1", FreePort(), new ConfigDiscovery(["127.0.0.1:1"]));

        await Assert.ThrowsAsync<ArgumentException>(() => TestNode.StartAsync(a => a.AddSweeperCluster("127.0.0.1", 0, [SweeperRoles.Worker], ["akka.tcp://sweeper@127.0.0.1:1"], management: management)));
    }
}
