using Akka.Actor;
using Akka.TestKit.Xunit2;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Messages;
using Sweeper.Cluster.Serialization;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Tests.Actors;

/// <summary>The coordinator's protocol with probes standing in for workers and trial actors.</summary>
public sealed class SweepCoordinatorActorTests() : TestKit("akka.actor.serialize-messages = on\n" + SweeperMessageSerializer.Hocon)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private static readonly CoordinatorOptions Options = new(null, Path.GetTempPath());

    private static EpochResult Epoch(int n, double acc) =>
        new(n, new Dictionary<string, double> { [MetricNames.TestAccuracy] = acc }, TimeSpan.FromMilliseconds(5));

    [Fact]
    public void CheckpointSaved_OfTheCurrentAssignment_RecordedBackToItsSender_StaleOneNot()
    {
        var spec = TestSpecs.Spec();
        var coordinator = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1)), Options));
        var worker = CreateTestProbe();
        var trial = CreateTestProbe();
        coordinator.Tell(new WorkerCommands.RegisterWorker("node-a", 1), worker);
        worker.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        var assign = worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait);
        var id = assign.Config.Id;
        coordinator.Tell(new TrialEvents.TrialStarted(id, assign.Assignment, "node-a", 0), trial);

        coordinator.Tell(new TrialEvents.CheckpointSaved(id, assign.Assignment, new CheckpointRef(1, "/c/1")), trial);
        Assert.Equal(new WorkerCommands.CheckpointRecorded(id, assign.Assignment, 1), trial.ExpectMsg<WorkerCommands.CheckpointRecorded>(Wait));

        coordinator.Tell(new TrialEvents.CheckpointSaved(id, assign.Assignment + 7, new CheckpointRef(2, "/c/2")), trial);
        trial.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // not its assignment: nothing was journaled
    }

    [Fact]
    public void RegisterWorker_TwoSlots_AssignsTwoTrialsInOrder()
    {
        var spec = TestSpecs.Spec();
        var coordinator = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1, 0.01, 0.001)), Options));
        var worker = CreateTestProbe();

        coordinator.Tell(new WorkerCommands.RegisterWorker("node-a", 2), worker);

        worker.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        Assert.Equal(1, worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait).Config.Id.Index);
        Assert.Equal(2, worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait).Config.Id.Index);
        worker.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void TrialCompleted_FreesSlot_NextTrialAssignedAndSweepCompletesOnce()
    {
        var spec = TestSpecs.Spec();
        var coordinator = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1, 0.01)), Options));
        var worker = CreateTestProbe();
        var subscriber = CreateTestProbe();
        coordinator.Tell(SweepQueries.Subscribe.Instance, subscriber);
        subscriber.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // trials are created as slots free up: none yet

        coordinator.Tell(new WorkerCommands.RegisterWorker("node-a", 1), worker);
        worker.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        var first = worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait).Config.Id;
        coordinator.Tell(new TrialEvents.TrialStarted(first, 1, "node-a", 0));
        coordinator.Tell(new TrialEvents.EpochCompleted(first, 1, Epoch(1, 0.5)));
        coordinator.Tell(new TrialEvents.TrialCompleted(first, 1));
        var second = worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait).Config.Id;
        Assert.NotEqual(first, second);
        coordinator.Tell(new TrialEvents.TrialStarted(second, 1, "node-a", 0));
        coordinator.Tell(new TrialEvents.EpochCompleted(second, 1, Epoch(1, 0.7)));
        coordinator.Tell(new TrialEvents.TrialFailed(second, 1, "boom"));

        var done = subscriber.FishForMessage<SweepQueries.SweepCompleted>(m => m is SweepQueries.SweepCompleted, Wait).Result;
        Assert.Equal([TrialState.Completed, TrialState.Failed], done.Trials.Select(t => t.State));
        Assert.Equal("boom", done.Trials[1].Reason);
        Assert.Equal(first, done.Best!.Id); // the failed trial had the higher accuracy, but only completed trials can be best
        Assert.All(done.Trials, t => Assert.Single(t.Epochs));
        subscriber.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void WorkerTerminated_RunningTrialsQueuedAgainForTheNextWorker()
    {
        var spec = TestSpecs.Spec();
        var coordinator = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1, 0.01)), Options));
        var doomed = CreateTestProbe();
        coordinator.Tell(new WorkerCommands.RegisterWorker("node-a", 2), doomed);
        doomed.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        doomed.ReceiveN(2, Wait);
        coordinator.Tell(new TrialEvents.EpochCompleted(new TrialId(1), 1, Epoch(1, 0.4)));

        Sys.Stop(doomed.Ref);
        var rescuer = CreateTestProbe();
        coordinator.Tell(new WorkerCommands.RegisterWorker("node-b", 2), rescuer);
        rescuer.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        var assigned = rescuer.ReceiveN(2, Wait).Cast<WorkerCommands.AssignTrial>().ToList();
        Assert.Equal([1, 2], assigned.Select(a => a.Config.Id.Index));
        Assert.Equal([2, 2], assigned.Select(a => a.Assignment)); // the second assignment of each

        // A late event of the first assignment is ignored.
        var subscriber = CreateTestProbe();
        coordinator.Tell(new TrialEvents.TrialCompleted(new TrialId(1), 1));
        coordinator.Tell(SweepQueries.Subscribe.Instance, subscriber);
        var states = subscriber.ReceiveN(2, Wait).Cast<SweepQueries.TrialUpdated>().Select(u => u.Trial).ToList();
        Assert.All(states, t => Assert.Equal(TrialState.Running, t.State));
        Assert.Empty(states[0].Epochs); // no checkpoint: it starts again from scratch
        Assert.Equal(0, Assert.Single(states[0].Resumes).FromEpoch);
    }

    [Fact]
    public void CompletedOrUnknownTrialEvents_Ignored()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 1);
        var coordinator = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1)), Options));
        var worker = CreateTestProbe();
        var subscriber = CreateTestProbe();
        coordinator.Tell(new WorkerCommands.RegisterWorker("node-a", 1), worker);
        worker.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait);
        coordinator.Tell(new TrialEvents.TrialCompleted(new TrialId(1), 1));
        coordinator.Tell(new TrialEvents.TrialFailed(new TrialId(1), 1, "late duplicate"));
        coordinator.Tell(new TrialEvents.TrialCompleted(new TrialId(99), 1));
        coordinator.Tell(SweepQueries.Subscribe.Instance, subscriber);

        subscriber.ExpectMsg<SweepQueries.TrialUpdated>(Wait);
        var done = subscriber.ExpectMsg<SweepQueries.SweepCompleted>(Wait).Result;
        Assert.Equal(TrialState.Completed, Assert.Single(done.Trials).State);
    }

    [Fact]
    public void CancelSweep_PendingStoppedRunningAskedToStop()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1);
        var coordinator = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1, 0.01)), Options));
        var worker = CreateTestProbe();
        var subscriber = CreateTestProbe();
        coordinator.Tell(new WorkerCommands.RegisterWorker("node-a", 1), worker);
        worker.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait);
        coordinator.Tell(SweepQueries.Subscribe.Instance, subscriber);

        coordinator.Tell(new SweepQueries.CancelSweep("user"));

        Assert.Equal(1, worker.ExpectMsg<WorkerCommands.StopTrial>(Wait).Id.Index);
        var done = subscriber.FishForMessage<SweepQueries.SweepCompleted>(m => m is SweepQueries.SweepCompleted, Wait).Result;
        Assert.All(done.Trials, t => Assert.Equal(TrialState.Stopped, t.State));
    }
}
