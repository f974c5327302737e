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

/// <summary>
/// What the coordinator's journal holds when a subscriber hears of a change: every change (an epoch's result, the trial's
/// end) is in the journal before anyone is told of it.
/// </summary>
public sealed class CoordinatorJournalTests() : TestKit("akka.actor.serialize-messages = on\nakka.loglevel = WARNING\n" + SweeperMessageSerializer.Hocon), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-coordinator-journal-").FullName;

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

    private TrialRecord Journaled()
    {
        using var journal = SweepJournal.OpenReadOnly(_dir);
        return Assert.Single(journal.Load().Trials);
    }

    [Fact]
    public void EpochCompleted_ThenTrialCompleted_EachInTheJournalBeforeTheSubscriberHearsOfIt()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 2);
        var coordinator = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(TestSpecs.Trials(spec, 0.1)),
            new CoordinatorOptions(_dir, Path.Combine(_dir, "checkpoints"))));
        var subscriber = CreateTestProbe();
        coordinator.Tell(SweepQueries.Subscribe.Instance, subscriber.Ref);
        var worker = CreateTestProbe();
        coordinator.Tell(new WorkerCommands.RegisterWorker("node-a", 1), worker.Ref);
        var assign = worker.FishForMessage<WorkerCommands.AssignTrial>(_ => true, Wait);
        var id = assign.Config.Id;
        coordinator.Tell(new TrialEvents.TrialStarted(id, assign.Assignment, "node-a", 0), worker.Ref);

        coordinator.Tell(new TrialEvents.EpochCompleted(id, assign.Assignment, Epoch(1, 0.5)), worker.Ref);
        subscriber.FishForMessage<SweepQueries.TrialUpdated>(u => u.Trial.Epochs.Count == 1, Wait);
        var running = Journaled();
        Assert.Equal(TrialState.Running, running.State);
        Assert.Equal("node-a", running.Worker);
        Assert.NotNull(running.StartedAt);
        Assert.Equal(assign.Assignment, running.Assignment);
        Assert.Equal([(1, 0.5)], running.Epochs.Select(e => (e.Epoch, e.Get(MetricNames.TestAccuracy))));

        coordinator.Tell(new TrialEvents.EpochCompleted(id, assign.Assignment, Epoch(2, 0.7)), worker.Ref);
        coordinator.Tell(new TrialEvents.TrialCompleted(id, assign.Assignment), worker.Ref);
        subscriber.FishForMessage<SweepQueries.TrialUpdated>(u => u.Trial.State == TrialState.Completed, Wait);
        var completed = Journaled();
        Assert.Equal(TrialState.Completed, completed.State);
        Assert.NotNull(completed.FinishedAt);
        Assert.Equal([1, 2], completed.Epochs.Select(e => e.Epoch));
    }
}
