using Akka.Actor;
using Akka.Event;
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

/// <summary>The coordinator and the worker when things go wrong: a journal that cannot be written, a coordinator started again, reassignment races.</summary>
public sealed class CoordinatorFaultTests() : TestKit("akka.actor.serialize-messages = on\nakka.loglevel = WARNING\n" + SweeperMessageSerializer.Hocon), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-faults-").FullName;

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

    private CoordinatorOptions Options(JournalRetry retry, Action<CoordinatorFailure>? onFatal = null) =>
        new(_dir, Path.Combine(_dir, "checkpoints"), onFatal) { JournalRetry = retry };

    [Fact]
    public async Task JournalLocked_PastTheRetries_FatalWithTrialsSoFar_CoordinatorStops()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1);
        var fatal = new TaskCompletionSource<CoordinatorFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
        var retry = new JournalRetry(3, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
        var coordinator = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1, 0.01)), Options(retry, f => fatal.TrySetResult(f))));
        var worker = CreateTestProbe();
        coordinator.Tell(new WorkerCommands.RegisterWorker("node-a", 1), worker);
        worker.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        var assign = worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait);
        Watch(coordinator);

        using (JournalLock.Hold(_dir))
        {
            coordinator.Tell(new TrialEvents.TrialStarted(assign.Config.Id, 1, "node-a", 0), worker);
            coordinator.Tell(new TrialEvents.EpochCompleted(assign.Config.Id, 1, Epoch(1, 0.5)), worker);
            coordinator.Tell(new TrialEvents.TrialCompleted(assign.Config.Id, 1), worker);

            var failure = await fatal.Task.WaitAsync(Wait);
            ExpectTerminated(coordinator, Wait);

            Assert.Contains(Path.Combine(_dir, SweepJournal.FileName), failure.Message);
            Assert.Contains("database is locked", failure.Message);
            Assert.Contains("3 tries", failure.Message);
            Assert.DoesNotContain('\n', failure.Message);
            var soFar = Assert.IsType<SweepResult>(failure.SoFar);
            Assert.Equal(failure.Message, soFar.StopReason);
            Assert.Equal(TrialState.Completed, soFar.Trials[0].State); // what the coordinator knew, journaled or not
            worker.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // trial 2 was never sent: its assignment was not journaled
        }
        // The journal holds what was committed before the lock: trial 1 running as assignment 1.
        using var journal = SweepJournal.Open(_dir);
        var row = Assert.Single(journal.Load().Trials);
        Assert.Equal((TrialState.Running, 1), (row.State, row.Assignment));
    }

    [Fact]
    public void JournalLocked_Briefly_WrittenOnceReleased_SweepCompletes()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 1);
        var retry = new JournalRetry(5, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(1));
        var failed = false;
        var coordinator = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1)), Options(retry, _ => failed = true)));
        var worker = CreateTestProbe();
        var subscriber = CreateTestProbe();
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings, typeof(Warning));
        coordinator.Tell(new WorkerCommands.RegisterWorker("node-a", 1), worker);
        worker.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        var id = worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait).Config.Id;
        coordinator.Tell(SweepQueries.Subscribe.Instance, subscriber);
        subscriber.ExpectMsg<SweepQueries.TrialUpdated>(Wait);

        using (JournalLock.Hold(_dir))
        {
            coordinator.Tell(new TrialEvents.EpochCompleted(id, 1, Epoch(1, 0.5)), worker);
            coordinator.Tell(new TrialEvents.TrialCompleted(id, 1), worker);
            warnings.FishForMessage<Warning>(w => w.Message.ToString()!.Contains("write 1 of 5 failed"), Wait);
            subscriber.ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // nothing leaves before it is journaled
        }

        var done = subscriber.FishForMessage<SweepQueries.SweepCompleted>(m => m is SweepQueries.SweepCompleted, Wait).Result;
        Assert.Equal(TrialState.Completed, Assert.Single(done.Trials).State);
        Assert.False(failed);
        using var journal = SweepJournal.Open(_dir);
        Assert.Equal(TrialState.Completed, Assert.Single(journal.Load().Trials).State);
    }

    [Fact]
    public async Task CoordinatorRestarted_WorkerAndWatcherRegisterAgain_TrialRunsAgainAsNextAssignmentAndCompletes()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 2);
        var gate = new ManualResetEventSlim(false);
        var factory = new FakeTrainableFactory { Gate = gate };
        // Under a parent that restarts it whatever it throws (as the singleton manager does with an exception).
        var parent = Sys.ActorOf(Props.Create(() => new RestartingParent(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1)), Options(JournalRetry.Default)))));
        var coordinator = await parent.Ask<IActorRef>("child", Wait);
        var updates = CreateTestProbe();
        var done = CreateTestProbe();
        Sys.ActorOf(SweepWatcherActor.Props(coordinator, t => updates.Ref.Tell(new SweepQueries.TrialUpdated(t)), r => done.Ref.Tell(new SweepQueries.SweepCompleted(r))));
        Sys.ActorOf(WorkerActor.Props(1, factory, coordinator), "worker");
        updates.FishForMessage<SweepQueries.TrialUpdated>(u => u.Trial.State == TrialState.Running, Wait);
        AwaitCondition(() => factory.Created == 1, Wait);

        coordinator.Tell(Kill.Instance); // restarted: a new incarnation, from the journal

        // The new incarnation knows no worker and no watcher: they register again and the trial runs again.
        AwaitCondition(() => factory.Created == 2, Wait);
        gate.Set();
        var result = done.ExpectMsg<SweepQueries.SweepCompleted>(Wait).Result;
        var trial = Assert.Single(result.Trials);
        Assert.Equal(TrialState.Completed, trial.State);
        Assert.Equal(2, trial.Assignment);
        Assert.Equal("the coordinator restarted", Assert.Single(trial.Resumes).Reason);
        Assert.Equal([1, 2], trial.Epochs.Select(e => e.Epoch));
    }

    [Theory]
    [InlineData(true)]   // StopTrial then the new assignment (a start timeout)
    [InlineData(false)]  // the new assignment alone (a coordinator started again)
    public void Worker_AssignedWhileTheTrialsPreviousRunStops_StartsItOnceStopped(bool stopFirst)
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 1);
        var gate = new ManualResetEventSlim(false);
        var coordinator = CreateTestProbe();
        var worker = Sys.ActorOf(WorkerActor.Props(1, new FakeTrainableFactory { Gate = gate }, coordinator.Ref));
        coordinator.FishForMessage<WorkerCommands.RegisterWorker>(_ => true, Wait);
        worker.Tell(new WorkerCommands.WorkerRegistered("c1"), coordinator.Ref);
        var config = TestSpecs.Trials(spec, 0.1)[0];
        var ckpt = Path.Combine(_dir, "checkpoints");
        worker.Tell(new WorkerCommands.AssignTrial(config, 1, null, ckpt, 0), coordinator.Ref);
        Assert.Equal(1, coordinator.FishForMessage<TrialEvents.TrialStarted>(_ => true, Wait).Assignment);

        if (stopFirst) worker.Tell(new WorkerCommands.StopTrial(config.Id, "did not start"), coordinator.Ref);
        worker.Tell(new WorkerCommands.AssignTrial(config, 2, null, ckpt, 0), coordinator.Ref);

        Assert.Equal(2, coordinator.FishForMessage<TrialEvents.TrialStarted>(_ => true, Wait).Assignment);
        gate.Set();
        var ended = coordinator.FishForMessage(m => m is TrialEvents.TrialCompleted or TrialEvents.TrialFailed, Wait);
        Assert.Equal(new TrialEvents.TrialCompleted(config.Id, 2), ended); // the stopped run is not reported as failed
    }

    [Fact]
    public async Task Worker_CoordinatorIncarnationChanges_StopsItsRunsWithoutReportingThem()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 1);
        var factory = new FakeTrainableFactory { Gate = new ManualResetEventSlim(false) };
        var coordinator = CreateTestProbe();
        var worker = Sys.ActorOf(WorkerActor.Props(1, factory, coordinator.Ref));
        coordinator.FishForMessage<WorkerCommands.RegisterWorker>(_ => true, Wait);
        worker.Tell(new WorkerCommands.WorkerRegistered("c1"), coordinator.Ref);
        var config = TestSpecs.Trials(spec, 0.1)[0];
        worker.Tell(new WorkerCommands.AssignTrial(config, 1, null, Path.Combine(_dir, "checkpoints"), 0), coordinator.Ref);
        coordinator.FishForMessage<TrialEvents.TrialStarted>(_ => true, Wait);
        var run = await Sys.ActorSelection(worker.Path / TrialActor.NameOf(config.Id)).ResolveOne(Wait);
        Watch(run);

        worker.Tell(new WorkerCommands.WorkerRegistered("c2"), coordinator.Ref);

        ExpectTerminated(run, Wait);
        coordinator.FishForMessage(m =>
        {
            Assert.IsNotType<TrialEvents.TrialFailed>(m); // an orphaned run is not reported
            return m is WorkerCommands.RegisterWorker;
        }, Wait);
    }

    private sealed class RestartingParent : ReceiveActor
    {
        public RestartingParent(Props props)
        {
            var child = Context.ActorOf(props, "child");
            Receive<string>(_ => Sender.Tell(child));
        }

        protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Restart);
    }
}
