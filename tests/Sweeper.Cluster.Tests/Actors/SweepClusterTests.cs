using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Hosting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Tests.Actors;

/// <summary>The whole protocol on a real one-node cluster (remoting on 127.0.0.1), wired as the CLI wires it.</summary>
public sealed class SweepClusterTests
{
    private static async Task<(SweepResult Result, List<TrialRecord> Updates)> RunAsync(SweepSpec spec, IReadOnlyList<TrialConfig> trials, ITrainableFactory factory)
    {
        var done = new TaskCompletionSource<SweepResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var updates = new List<TrialRecord>();
        using var host = SweeperHosting.BuildHost(akka => akka
            .AddHocon("akka.actor.serialize-messages = on", HoconAddMode.Prepend)
            .AddSweeperCluster("127.0.0.1", 0, [SweeperRoles.Coordinator, SweeperRoles.Worker], [])
            .AddSweeperCoordinator(spec, new FixedTrialSource(trials), new CoordinatorOptions(null, Path.Combine(Path.GetTempPath(), "sweeper-ckpt-" + Guid.NewGuid().ToString("N"))))
            .AddSweeperWorker(spec.Resources.MaxConcurrentTrials, factory));
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var proxy = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorProxy>();
            system.ActorOf(SweepWatcherActor.Props(proxy, t => { lock (updates) updates.Add(t); }, r => done.TrySetResult(r)));
            var result = await done.Task.WaitAsync(TimeSpan.FromSeconds(60));
            lock (updates) return (result, updates.ToList());
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Run_FiveTrialsTwoSlots_EachCompletesOnceNeverMoreThanTwoAtOnce()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 2, epochs: 3);
        var factory = new FakeTrainableFactory();
        var trials = TestSpecs.Trials(spec, 1, 0.3, 0.1, 0.03, 0.01);

        var (result, updates) = await RunAsync(spec, trials, factory);

        Assert.Equal([1, 2, 3, 4, 5], result.Trials.Select(t => t.Id.Index));
        Assert.All(result.Trials, t => Assert.Equal(TrialState.Completed, t.State));
        Assert.All(result.Trials, t => Assert.Equal([1, 2, 3], t.Epochs.Select(e => e.Epoch)));
        Assert.All(result.Trials, t => Assert.StartsWith("akka.tcp://sweeper@127.0.0.1:", t.Worker));
        Assert.Equal(5, factory.Created);
        Assert.Equal(2, factory.MaxConcurrent);
        Assert.Equal(3, result.Best!.Id.Index); // lr 0.1 is the fake's optimum
        Assert.Contains(updates, u => u.State == TrialState.Running && u.Epochs.Count == 1);
    }

    [Fact]
    public async Task Run_TrainableThrows_TrialFailedWithReasonOthersComplete()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 2);
        var factory = new FakeTrainableFactory { FailingLr = 0.01 };

        var (result, _) = await RunAsync(spec, TestSpecs.Trials(spec, 0.1, 0.01, 0.001), factory);

        Assert.Equal([TrialState.Completed, TrialState.Failed, TrialState.Completed], result.Trials.Select(t => t.State));
        // The first run and one supervised restart; the reason says what the last one threw.
        Assert.Equal("crashed 2 time(s); gave up; last: InvalidOperationException: boom at lr 0.01", result.Trials[1].Reason);
        Assert.Equal(2, result.Trials[1].Crashes.Count);
        Assert.All(result.Trials[1].Crashes, c => Assert.Equal("InvalidOperationException: boom at lr 0.01", c.Error));
        Assert.Empty(result.Trials[1].Epochs);
    }

    [Fact]
    public async Task Run_TrainableThrowsOnce_SupervisionRestartsItFromItsCheckpointAndItCompletes()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 2, epochs: 4);
        var factory = new FakeTrainableFactory { CrashOnce = (0.01, 3) };

        var (result, _) = await RunAsync(spec, TestSpecs.Trials(spec, 0.1, 0.01), factory);

        Assert.All(result.Trials, t => Assert.Equal(TrialState.Completed, t.State));
        var crashed = result.Trials[1];
        var crash = Assert.Single(crashed.Crashes);
        Assert.Equal("IOException: disk hiccup at epoch 3", crash.Error);
        Assert.Equal(2, crash.AfterEpoch);
        Assert.Equal([1, 2, 3, 4], crashed.Epochs.Select(e => e.Epoch));
        Assert.Contains((crashed.Id, 2), factory.Resumed); // continued from its epoch-2 checkpoint, not from scratch
        Assert.Empty(result.Trials[0].Crashes);
    }
}
