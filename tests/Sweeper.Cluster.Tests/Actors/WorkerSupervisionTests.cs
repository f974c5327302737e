using Akka.Actor;
using Akka.TestKit.Xunit2;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Messages;
using Sweeper.Cluster.Serialization;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Tests.Actors;

/// <summary>
/// The worker supervises its trial actors: a crashed run starts again after its backoff from its newest checkpoint, up
/// to its retries, then the trial fails; a run stopped (or asked to stop) while it waits for its restart behaves as a
/// running one would.
/// </summary>
public sealed class WorkerSupervisionTests() : TestKit("akka.actor.serialize-messages = on\nakka.loglevel = WARNING\n" + SweeperMessageSerializer.Hocon), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-supervision-").FullName;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Directory.Delete(_dir, recursive: true);
    }

    private (IActorRef Worker, Akka.TestKit.TestProbe Coordinator) StartWorker(FakeTrainableFactory factory)
    {
        var coordinator = CreateTestProbe();
        var worker = Sys.ActorOf(WorkerActor.Props(1, factory, coordinator.Ref));
        coordinator.FishForMessage<WorkerCommands.RegisterWorker>(_ => true, Wait);
        worker.Tell(new WorkerCommands.WorkerRegistered("c1"), coordinator.Ref);
        return (worker, coordinator);
    }

    /// <summary>What the coordinator hears about trials until <paramref name="until"/> holds (registrations left out).</summary>
    private static List<object> Collect(Akka.TestKit.TestProbe coordinator, Func<object, bool> until)
    {
        var events = new List<object>();
        coordinator.FishForMessage(m =>
        {
            if (m is WorkerCommands.RegisterWorker) return false;
            events.Add(m);
            return until(m);
        }, Wait);
        return events;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void Worker_TrainableThrowsEveryTime_StartsItAgainRetriesTimesThenReportsTheTrialFailed(int retries)
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 2);
        var factory = new FakeTrainableFactory { FailingLr = 0.01, EpochTime = TimeSpan.FromMilliseconds(1) };
        var (worker, coordinator) = StartWorker(factory);
        var config = TestSpecs.Trials(spec, 0.01)[0];

        worker.Tell(new WorkerCommands.AssignTrial(config, 1, null, Path.Combine(_dir, "checkpoints"), 0, CrashRetries: retries, CrashBackoffSeconds: 0.02), coordinator.Ref);
        var events = Collect(coordinator, m => m is TrialEvents.TrialFailed or TrialEvents.TrialCompleted);

        Assert.Equal(retries + 1, events.OfType<TrialEvents.TrialStarted>().Count());
        Assert.Equal(retries + 1, events.OfType<TrialEvents.TrialCrashed>().Count());
        Assert.Equal(new TrialEvents.TrialFailed(config.Id, 1, $"crashed {retries + 1} time(s); gave up; last: InvalidOperationException: boom at lr 0.01"), events[^1]);
        Assert.Equal(retries + 1, factory.Created);
        coordinator.FishForMessage(m =>
        {
            Assert.IsNotType<TrialEvents.TrialStarted>(m); // given up: no further restart
            return m is WorkerCommands.RegisterWorker;
        }, Wait);
    }

    [Fact]
    public void Worker_StopTrialWhileACrashedRunWaitsForItsBackoff_NoRestartNoFailureAndTheNextAssignmentStartsAtOnce()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 1);
        var factory = new FakeTrainableFactory { FailingLr = 0.01, EpochTime = TimeSpan.FromMilliseconds(1) };
        var (worker, coordinator) = StartWorker(factory);
        var config = TestSpecs.Trials(spec, 0.01)[0];
        var checkpoints = Path.Combine(_dir, "checkpoints");
        // A backoff far longer than the test's wait: a restart of assignment 1 would not come in time to be seen.
        worker.Tell(new WorkerCommands.AssignTrial(config, 1, null, checkpoints, 0, CrashRetries: 3, CrashBackoffSeconds: 600), coordinator.Ref);
        Collect(coordinator, m => m is TrialEvents.TrialCrashed);
        var run = Sys.ActorSelection(worker.Path / TrialActor.NameOf(config.Id));
        AwaitCondition(() => run.Ask<ActorIdentity>(new Identify(null), Wait).Result.Subject is null, Wait); // stopped: waiting for its backoff

        worker.Tell(new WorkerCommands.StopTrial(config.Id, "the sweep stops"), coordinator.Ref);
        worker.Tell(new WorkerCommands.AssignTrial(config, 2, null, checkpoints, 0, CrashRetries: 0, CrashBackoffSeconds: 600), coordinator.Ref);

        var events = Collect(coordinator, m => m is TrialEvents.TrialFailed);
        Assert.Equal(2, Assert.Single(events.OfType<TrialEvents.TrialStarted>()).Assignment); // assignment 1 never started again
        Assert.Equal(new TrialEvents.TrialFailed(config.Id, 2, "crashed 1 time(s); gave up; last: InvalidOperationException: boom at lr 0.01"), events[^1]);
        Assert.DoesNotContain(events, m => m is TrialEvents.TrialFailed { Assignment: 1 });
    }

    [Fact]
    public void Worker_StopAfterEpochWhileACrashedRunWaitsForItsBackoff_TheRestartContinuesFromItsCheckpointAndPausesThere()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 4);
        var factory = new FakeTrainableFactory { CrashOnce = (0.01, 2), EpochTime = TimeSpan.FromMilliseconds(1) };
        var (worker, coordinator) = StartWorker(factory);
        var config = TestSpecs.Trials(spec, 0.01)[0];
        worker.Tell(new WorkerCommands.AssignTrial(config, 1, null, Path.Combine(_dir, "checkpoints"), CheckpointInterval: 1, CrashRetries: 2, CrashBackoffSeconds: 1),
            coordinator.Ref);
        var before = Collect(coordinator, m => m is TrialEvents.TrialCrashed);
        Assert.Equal(1, Assert.Single(before.OfType<TrialEvents.CheckpointSaved>()).Checkpoint.Epoch);

        worker.Tell(new WorkerCommands.StopAfterEpoch(config.Id, 1, "stopped by request"), coordinator.Ref);

        var after = Collect(coordinator, m => m is TrialEvents.TrialPaused or TrialEvents.TrialCompleted or TrialEvents.TrialFailed);
        Assert.Equal(1, Assert.Single(after.OfType<TrialEvents.TrialStarted>()).FromEpoch); // restarted from its epoch-1 checkpoint
        Assert.Empty(after.OfType<TrialEvents.EpochCompleted>());
        Assert.Equal(new TrialEvents.TrialPaused(config.Id, 1, 1), after[^1]);
        Assert.Contains((config.Id, 1), factory.Resumed);
    }
}
