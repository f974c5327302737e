using Akka.Actor;
using Akka.TestKit.Xunit2;
using Microsoft.Data.Sqlite;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Journal;
using Sweeper.Cluster.Messages;
using Sweeper.Cluster.Serialization;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Tests.Actors;

/// <summary>A graceful stop (sweeper stop): the worker lets a run finish its epoch and checkpoint it; the coordinator journals the interruption and a coordinator started again on the journal continues it.</summary>
public sealed class GracefulStopTests() : TestKit("akka.actor.serialize-messages = on\nakka.loglevel = WARNING\n" + SweeperMessageSerializer.Hocon), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private const string Reason = "stopped by request of pid 7 on host-a at 2026-12-06 07:00:00Z (sweeper stop)";
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-graceful-").FullName;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static EpochResult Epoch(int n, double acc) =>
        new(n, new Dictionary<string, double> { [MetricNames.TestAccuracy] = acc }, TimeSpan.FromMilliseconds(5));

    [Fact]
    public async Task Worker_StopAfterEpoch_TheRunFinishesItsEpochSavesThatCheckpointOffTheIntervalAndReportsPaused()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 5);
        var gate = new ManualResetEventSlim(false);
        var coordinator = CreateTestProbe();
        var factory = new FakeTrainableFactory { Gate = gate };
        var worker = Sys.ActorOf(WorkerActor.Props(1, factory, coordinator.Ref));
        coordinator.FishForMessage<WorkerCommands.RegisterWorker>(_ => true, Wait);
        worker.Tell(new WorkerCommands.WorkerRegistered("c1"), coordinator.Ref);
        var config = TestSpecs.Trials(spec, 0.1)[0];
        var checkpoints = Path.Combine(_dir, "checkpoints");
        worker.Tell(new WorkerCommands.AssignTrial(config, 1, null, checkpoints, CheckpointInterval: 3), coordinator.Ref);
        coordinator.FishForMessage<TrialEvents.TrialStarted>(_ => true, Wait);
        // Epoch 1 under way (a stop that arrives before the first epoch begins stops the run there, with no epoch).
        Assert.True(factory.EpochBegun.Wait(Wait), "epoch 1 did not begin");

        worker.Tell(new WorkerCommands.StopAfterEpoch(config.Id, 1, Reason), coordinator.Ref);
        await worker.Ask<ActorIdentity>(new Identify(null), Wait); // handled after the stop: the flag is set
        gate.Set(); // epoch 1 ends

        var events = new List<object>();
        coordinator.FishForMessage(m =>
        {
            if (m is not WorkerCommands.RegisterWorker) events.Add(m);
            return m is TrialEvents.TrialPaused or TrialEvents.TrialCompleted or TrialEvents.TrialFailed;
        }, Wait);
        Assert.Equal(1, Assert.Single(events.OfType<TrialEvents.EpochCompleted>()).Result.Epoch);
        var saved = Assert.Single(events.OfType<TrialEvents.CheckpointSaved>()).Checkpoint; // epoch 1 is off the interval of 3
        Assert.Equal(1, saved.Epoch);
        Assert.True(File.Exists(saved.Path));
        Assert.Equal(new TrialEvents.TrialPaused(config.Id, 1, 1), events[^1]);
        coordinator.FishForMessage(m =>
        {
            Assert.IsNotType<TrialEvents.TrialFailed>(m); // a run stopped on purpose is not reported as failed
            Assert.IsNotType<TrialEvents.EpochCompleted>(m);
            return m is WorkerCommands.RegisterWorker;
        }, Wait);
    }

    [Fact]
    public void Coordinator_GracefulCancel_JournalsTheInterruption_ACoordinatorStartedAgainContinuesFromTheCheckpoint()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 3);
        var options = new CoordinatorOptions(_dir, Path.Combine(_dir, "checkpoints"));
        var first = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1, 0.01)), options));
        var worker = CreateTestProbe();
        var subscriber = CreateTestProbe();
        first.Tell(new WorkerCommands.RegisterWorker("node-a", 1), worker);
        worker.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        var id = worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait).Config.Id;
        first.Tell(new TrialEvents.TrialStarted(id, 1, "node-a", 0), worker);
        first.Tell(new TrialEvents.EpochCompleted(id, 1, Epoch(1, 0.5)), worker);
        first.Tell(SweepQueries.Subscribe.Instance, subscriber);

        first.Tell(new SweepQueries.CancelSweep(Reason, Graceful: true));

        Assert.Equal(new WorkerCommands.StopAfterEpoch(id, 1, Reason), worker.ExpectMsg<WorkerCommands.StopAfterEpoch>(Wait));
        first.Tell(new TrialEvents.EpochCompleted(id, 1, Epoch(2, 0.6)), worker);
        first.Tell(new TrialEvents.CheckpointSaved(id, 1, new CheckpointRef(2, Path.Combine(_dir, "checkpoints", "t0001", "epoch-0002.ckpt"))), worker);
        first.Tell(new TrialEvents.TrialPaused(id, 1, 2), worker);
        var stopped = subscriber.FishForMessage<SweepQueries.SweepCompleted>(m => m is SweepQueries.SweepCompleted, Wait).Result;
        var trial = Assert.Single(stopped.Trials); // the second trial never started
        Assert.Equal((TrialState.Stopped, true, Reason), (trial.State, trial.Interrupted, trial.Reason));
        Assert.Equal(Reason, stopped.StopReason);
        worker.FishForMessage(m => m is WorkerCommands.CheckpointRecorded, Wait);
        worker.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // no assignment after the stop
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, Wait);
        using (var journal = SweepJournal.Open(_dir))
        {
            var state = journal.Load();
            Assert.Equal(Reason, state.StopReason);
            Assert.True(Assert.Single(state.Trials).Interrupted);
        }

        var second = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1, 0.01)), options));
        var next = CreateTestProbe();
        second.Tell(new WorkerCommands.RegisterWorker("node-b", 1), next);
        next.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        var again = next.ExpectMsg<WorkerCommands.AssignTrial>(Wait);
        Assert.Equal((id, 2, 2), (again.Config.Id, again.Assignment, again.ResumeFrom!.Epoch));
        using (var journal = SweepJournal.Open(_dir)) // written before the assignment was sent
        {
            var state = journal.Load();
            Assert.Null(state.StopReason);
            Assert.Equal((TrialState.Running, false), (state.Trials[0].State, state.Trials[0].Interrupted));
        }
        second.Tell(new TrialEvents.TrialStarted(id, 2, "node-b", 2), next);
        second.Tell(new TrialEvents.EpochCompleted(id, 2, Epoch(3, 0.7)), next);
        second.Tell(new TrialEvents.TrialCompleted(id, 2), next);
        var other = next.FishForMessage<WorkerCommands.AssignTrial>(_ => true, Wait);
        Assert.Equal(2, other.Config.Id.Index); // the rest of the sweep runs
        second.Tell(new TrialEvents.TrialStarted(other.Config.Id, 1, "node-b", 0), next);
        foreach (var e in new[] { 1, 2, 3 }) second.Tell(new TrialEvents.EpochCompleted(other.Config.Id, 1, Epoch(e, 0.4)), next);
        var watcher = CreateTestProbe();
        second.Tell(new TrialEvents.TrialCompleted(other.Config.Id, 1), next);
        second.Tell(SweepQueries.Subscribe.Instance, watcher);

        var done = watcher.FishForMessage<SweepQueries.SweepCompleted>(m => m is SweepQueries.SweepCompleted, Wait).Result;
        Assert.Equal([(1, TrialState.Completed), (2, TrialState.Completed)], done.Trials.Select(t => (t.Id.Index, t.State)));
        Assert.Equal([1, 2, 3], done.Trials[0].Epochs.Select(e => e.Epoch)); // epochs 1-2 kept, not run again
        Assert.Equal(2, Assert.Single(done.Trials[0].Resumes).FromEpoch);
        Assert.Null(done.StopReason);
    }
}
