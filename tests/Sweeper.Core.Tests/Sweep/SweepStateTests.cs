using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Stability;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Tests.Sweep;

/// <summary>The coordinator's decisions, event by event, with no actor: what changes and which effects come out.</summary>
public sealed partial class SweepStateTests
{
    private static readonly WorkerId A = new(1);
    private static readonly WorkerId B = new(2);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static SweepSpec Spec(string extra = "", string lrs = "[0.1, 0.01, 0.001]", int epochs = 3) => SpecLoader.LoadText($"""
        name: state
        objective: {"{"}metric: val_accuracy, mode: max{"}"}
        trainable: {"{"}model: synthetic, epochs: {epochs}{"}"}
        parameters:
          trainable.optimizer.lr: {"{"}values: {lrs}{"}"}
        {extra}
        """, "state.yaml", Path.GetTempPath());

    private static SweepState State(SweepSpec spec) => new(spec, new SpecTrialSource(spec), () => T0);

    private static EpochResult Epoch(int n, double acc) => new(n, new Dictionary<string, double> { [MetricNames.ValAccuracy] = acc }, TimeSpan.FromSeconds(1));

    private static List<SweepEffect.Assign> Assigns(IReadOnlyList<SweepEffect> effects) => effects.OfType<SweepEffect.Assign>().ToList();

    [Fact]
    public void WorkerJoined_TwoSlots_CreatesAndAssignsTwoTrialsInOrder()
    {
        var state = State(Spec());
        Assert.Empty(state.Start());

        var effects = state.WorkerJoined(A, "node-a", 2);

        Assert.Equal([1, 2], effects.OfType<SweepEffect.TrialCreated>().Select(c => c.Config.Id.Index));
        Assert.Equal([(A, 1, 1), (A, 2, 1)], Assigns(effects).Select(a => (a.Worker, a.Trial.Id.Index, a.Assignment)));
        Assert.All(effects.OfType<SweepEffect.TrialChanged>(), c => Assert.Equal(TrialState.Running, c.After.State));
        Assert.Equal(2, state.Running);
        Assert.Equal(0, state.Finished);
    }

    [Fact]
    public void TrialCompleted_FreesSlot_NextTrialAssigned_SweepCompletesOnceWhenAllFinished()
    {
        var state = State(Spec(epochs: 1));
        state.Start();
        state.WorkerJoined(A, "node-a", 1);

        var after1 = Step(state, new TrialId(1), 1, 0.5);
        Assert.Equal(2, Assert.Single(Assigns(after1)).Trial.Id.Index);
        var after2 = Step(state, new TrialId(2), 1, 0.7);
        Assert.Equal(3, Assert.Single(Assigns(after2)).Trial.Id.Index);
        var after3 = Step(state, new TrialId(3), 1, 0.6);

        var done = Assert.Single(after3.OfType<SweepEffect.SweepCompleted>()).Result;
        Assert.Equal(3, state.Finished);
        Assert.Equal(2, done.Best!.Id.Index);
        Assert.Empty(state.TrialCompleted(new TrialId(3), 1)); // a repeated event changes nothing
        Assert.Equal(3, state.Finished);
    }

    [Fact]
    public void EventOfOlderAssignment_Ignored()
    {
        var state = State(Spec());
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        state.WorkerLeft(A);
        var reassigned = state.WorkerJoined(B, "node-b", 1);
        Assert.Equal((1, 2), Assigns(reassigned).Select(a => (a.Trial.Id.Index, a.Assignment)).Single());

        Assert.Empty(state.EpochCompleted(new TrialId(1), 1, Epoch(1, 0.9)));
        Assert.Empty(state.TrialCompleted(new TrialId(1), 1));
        Assert.Equal(TrialState.Running, state[new TrialId(1)].State);
        Assert.Empty(state[new TrialId(1)].Epochs);
    }

    [Fact]
    public void WorkerLeft_RunningTrialQueuedFirstFromItsCheckpoint_LaterEpochsDropped()
    {
        var state = State(Spec());
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        var id = new TrialId(1);
        state.EpochCompleted(id, 1, Epoch(1, 0.5));
        state.CheckpointSaved(id, 1, new CheckpointRef(1, "/ckpt/t0001/epoch-0001.ckpt"), healthy: true);
        state.EpochCompleted(id, 1, Epoch(2, 0.6));

        var effects = state.WorkerLeft(A);

        Assert.Equal(new SweepEffect.EpochsDropped(id, 1), effects.OfType<SweepEffect.EpochsDropped>().Single());
        var queued = effects.OfType<SweepEffect.QueuedAgain>().Single();
        Assert.Equal((1, "worker node-a left the cluster"), (queued.Resume.FromEpoch, queued.Resume.Reason));
        var trial = state[id];
        Assert.Equal(TrialState.Pending, trial.State);
        Assert.Equal([1], trial.Epochs.Select(e => e.Epoch));
        Assert.Equal(0, state.Running);
        // It goes first: the next worker gets it again, resuming from the checkpoint.
        var assign = Assigns(state.WorkerJoined(B, "node-b", 1)).Single();
        Assert.Equal((id, 1), (assign.Trial.Id, assign.Trial.Checkpoint!.Epoch));
    }

    [Fact]
    public void TargetReached_SweepStops_PendingStoppedRunningToldToStop()
    {
        var state = State(Spec("stop: {target: 0.8}", epochs: 1));
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        state.WorkerJoined(B, "node-b", 1);

        var effects = Step(state, new TrialId(1), 1, 0.85);

        var reason = Assert.Single(effects.OfType<SweepEffect.StopReasonSet>()).Reason;
        Assert.Equal("target val_accuracy >= 0.8 reached by t0001", reason);
        Assert.Equal(new SweepEffect.StopTrial(B, new TrialId(2), reason), Assert.Single(effects.OfType<SweepEffect.StopTrial>()));
        Assert.Empty(Assigns(effects));
        Assert.Equal(reason, Assert.Single(effects.OfType<SweepEffect.SweepCompleted>()).Result.StopReason);
        Assert.Equal(TrialState.Stopped, state[new TrialId(2)].State);
        Assert.Equal(2, state.Finished);
    }

    [Fact]
    public void Stop_PendingAndRunningStopped_CountedOnce_SecondStopChangesNothing()
    {
        var state = State(Spec());
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        state.WorkerLeft(A); // t0001 pending again

        var effects = state.Stop("cancelled");

        Assert.Equal(TrialState.Stopped, state[new TrialId(1)].State);
        Assert.Equal(1, state.Finished);
        Assert.Single(effects.OfType<SweepEffect.SweepCompleted>());
        Assert.Empty(state.Stop("again"));
    }

    [Fact]
    public void TrialUnstable_RestartPolicy_NewAttemptWithChangedLrFromHealthyCheckpointAfterBackoff()
    {
        var spec = Spec("""
            stability:
              diverged: {action: restart, from: last_healthy, change: [{trainable.optimizer.lr: "*0.5"}], max_restarts: 1, backoff: 2s}
            """, lrs: "[0.1]");
        var state = State(spec);
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        var id = new TrialId(1);
        state.EpochCompleted(id, 1, Epoch(1, 0.5));
        state.CheckpointSaved(id, 1, new CheckpointRef(1, "/c/1"), healthy: true);
        state.EpochCompleted(id, 1, Epoch(2, 0.6));
        var verdict = StabilityVerdict.Unhealthy(StabilityKind.Diverged,
            new StabilityEvidence(StabilitySignal.NonFiniteLoss, 40, null, null, 0, double.NaN, double.NaN, double.NaN, [], "loss is NaN"));

        var effects = state.TrialUnstable(id, 1, verdict, lastEpoch: 2, flips: 0);

        Assert.Equal(StabilityKind.Diverged, effects.OfType<SweepEffect.StabilityJudged>().Single().Verdict);
        var restarted = effects.OfType<SweepEffect.Restarted>().Single().Attempt;
        Assert.Equal((2, 1, "/c/1"), (restarted.Number, restarted.FromEpoch, restarted.ParentCheckpoint));
        Assert.Equal(TimeSpan.FromSeconds(2), effects.OfType<SweepEffect.RequeueLater>().Single().Delay);
        Assert.Empty(Assigns(effects)); // not before the backoff
        var trial = state[id];
        Assert.Equal(TrialState.Pending, trial.State);
        Assert.Equal(0.05, trial.Config.Trainable.Optimizer.Lr, 12);
        Assert.Equal(StabilityKind.Diverged, trial.Attempts[0].Verdict);

        var assign = Assigns(state.RequeueDue(id)).Single();
        Assert.Equal((2, 0.05), (assign.Assignment, assign.Trial.Config.Trainable.Optimizer.Lr));
        Assert.Equal(1, assign.Trial.Checkpoint!.Epoch);
    }

    [Fact]
    public void TrialUnstable_AfterLastRestart_Stopped()
    {
        var spec = Spec("""
            stability:
              diverged: {action: restart, from: start, change: [{trainable.optimizer.lr: "*0.5"}], max_restarts: 1}
            """, lrs: "[0.1]");
        var state = State(spec);
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        var id = new TrialId(1);
        var verdict = StabilityVerdict.Unhealthy(StabilityKind.Diverged,
            new StabilityEvidence(StabilitySignal.NonFiniteLoss, 3, null, null, 0, double.NaN, double.NaN, double.NaN, [], "loss is NaN"));

        var first = state.TrialUnstable(id, 1, verdict, 0, 0);
        Assert.Equal(2, Assigns(first).Single().Assignment); // no backoff: at once
        var second = state.TrialUnstable(id, 2, verdict, 0, 0);

        Assert.Empty(second.OfType<SweepEffect.Restarted>());
        Assert.Equal(TrialState.Stopped, state[id].State);
        Assert.StartsWith("stability: ", state[id].Reason);
        Assert.Equal(1, state.Finished);
    }

    [Fact]
    public void Start_FromJournal_RunningTrialRequeuedFromCheckpoint_FinishedOnesCounted()
    {
        var spec = Spec();
        var source = new SpecTrialSource(spec);
        var c1 = source.Create(0)!;
        var c2 = source.Create(1)!;
        var journaled = new[]
        {
            new TrialRecord { Config = c1, State = TrialState.Completed, Epochs = [Epoch(1, 0.5), Epoch(2, 0.6), Epoch(3, 0.7)] },
            new TrialRecord { Config = c2, State = TrialState.Running, Epochs = [Epoch(1, 0.4), Epoch(2, 0.5)], Checkpoint = new CheckpointRef(1, "/c") },
        };
        var state = new SweepState(spec, source, () => T0);

        var effects = state.Start(journaled, T0.AddHours(-1));

        Assert.Equal(T0.AddHours(-1), state.StartedAt);
        Assert.Equal(new SweepEffect.EpochsDropped(c2.Id, 1), effects.OfType<SweepEffect.EpochsDropped>().Single());
        var rewritten = effects.OfType<SweepEffect.TrialChanged>().Single();
        Assert.False(rewritten.StateChanged);
        Assert.Equal(TrialState.Pending, state[c2.Id].State);
        Assert.Equal("the coordinator restarted", state[c2.Id].Resumes.Single().Reason);
        Assert.Equal(1, state.Finished);
        var assigns = Assigns(state.WorkerJoined(A, "node-a", 2));
        Assert.Equal([(2, 1), (3, 1)], assigns.Select(a => (a.Trial.Id.Index, a.Assignment)));
    }

    [Fact]
    public void Asha_StopsWeakTrialAtRung_StopTrialToItsWorker()
    {
        var state = State(Spec("scheduler: {name: asha, grace_period: 1, reduction_factor: 2}", lrs: "[0.1, 0.01]", epochs: 4));
        state.Start();
        state.WorkerJoined(A, "node-a", 2);
        state.EpochCompleted(new TrialId(1), 1, Epoch(1, 0.9));

        var effects = state.EpochCompleted(new TrialId(2), 1, Epoch(1, 0.1));

        Assert.True(effects.OfType<SweepEffect.SchedulerDecided>().Single().Decision.IsStop);
        Assert.Equal(new SweepEffect.StopTrial(A, new TrialId(2), effects.OfType<SweepEffect.SchedulerDecided>().Single().Decision.Reason),
            effects.OfType<SweepEffect.StopTrial>().Single());
        Assert.Equal(TrialState.Stopped, state[new TrialId(2)].State);
        Assert.StartsWith("asha: ", state[new TrialId(2)].Reason);
    }

    [Fact]
    public void Assign_StartTimeoutAwaited_AssignmentKeptWithTheRecord()
    {
        var state = new SweepState(Spec(), new SpecTrialSource(Spec()), () => T0, startTimeout: TimeSpan.FromSeconds(7));
        state.Start();

        var effects = state.WorkerJoined(A, "node-a", 1);

        Assert.Equal(new SweepEffect.AwaitStart(new TrialId(1), 1, TimeSpan.FromSeconds(7)), Assert.Single(effects.OfType<SweepEffect.AwaitStart>()));
        Assert.Equal(1, state[new TrialId(1)].Assignment);
        Assert.Equal(1, effects.OfType<SweepEffect.TrialChanged>().Last().After.Assignment); // journaled with the row
    }

    [Fact]
    public void StartOverdue_NeverStarted_StoppedOnItsWorkerQueuedFirstAndAssignedAgain()
    {
        var state = State(Spec());
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        var id = new TrialId(1);

        var effects = state.StartOverdue(id, 1);

        var reason = "assignment 1 did not start within 60 s";
        Assert.Equal(new SweepEffect.StopTrial(A, id, reason), Assert.Single(effects.OfType<SweepEffect.StopTrial>()));
        Assert.Equal(reason, Assert.Single(effects.OfType<SweepEffect.QueuedAgain>()).Resume.Reason);
        // First in line: the freed slot takes the same trial again (not trial 2), as a new assignment.
        var again = Assert.Single(Assigns(effects));
        Assert.Equal((A, 1, 2), (again.Worker, again.Trial.Id.Index, again.Assignment));
        Assert.Equal(new SweepEffect.AwaitStart(id, 2, SweepState.DefaultStartTimeout), Assert.Single(effects.OfType<SweepEffect.AwaitStart>()));
        Assert.Equal(TrialState.Running, state[id].State);
        Assert.Equal(2, state[id].Assignment);
        Assert.Single(state[id].Resumes);
    }

    [Theory]
    [InlineData(true, 1)]   // it started in time
    [InlineData(false, 2)]  // a timer of an assignment that does not exist (or a stale one)
    public void StartOverdue_StartedOrNotCurrent_ChangesNothing(bool started, int assignment)
    {
        var state = State(Spec());
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        var id = new TrialId(1);
        if (started) state.TrialStarted(id, 1, "node-a");

        Assert.Empty(state.StartOverdue(id, assignment));
        Assert.Equal((TrialState.Running, 1), (state[id].State, state[id].Assignment));
    }

    [Fact]
    public void StartOverdue_AfterWorkerLeftAndReassigned_OldTimerIgnored()
    {
        var state = State(Spec());
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        state.WorkerLeft(A);
        state.WorkerJoined(B, "node-b", 1);
        var id = new TrialId(1);

        Assert.Empty(state.StartOverdue(id, 1));
        Assert.Equal(2, state[id].Assignment);
        Assert.NotEmpty(state.StartOverdue(id, 2)); // the current one's timer still counts
    }

    [Fact]
    public void Start_FromJournal_AssignmentNumbersContinue_EventsOfEarlierLifeIgnored()
    {
        var spec = Spec();
        var source = new SpecTrialSource(spec);
        var c1 = source.Create(0)!;
        var journaled = new[] { new TrialRecord { Config = c1, State = TrialState.Running, Assignment = 3, Epochs = [Epoch(1, 0.4)] } };
        var state = new SweepState(spec, source, () => T0);
        state.Start(journaled, T0);

        var assigns = Assigns(state.WorkerJoined(A, "node-a", 1));

        Assert.Equal((1, 4), assigns.Select(a => (a.Trial.Id.Index, a.Assignment)).Single());
        Assert.Equal(4, state[c1.Id].Assignment);
        // The run of the coordinator's earlier life (assignments 1..3) still reports: none of it counts.
        foreach (var old in new[] { 1, 3 })
        {
            Assert.Empty(state.TrialStarted(c1.Id, old, "node-x"));
            Assert.Empty(state.EpochCompleted(c1.Id, old, Epoch(1, 0.9)));
            Assert.Empty(state.TrialCompleted(c1.Id, old));
        }
        Assert.Equal(TrialState.Running, state[c1.Id].State);
        Assert.Empty(state[c1.Id].Epochs); // the journaled epoch 1 had no checkpoint: it runs again
        Assert.NotEmpty(state.TrialCompleted(c1.Id, 4));
    }

    private static IReadOnlyList<SweepEffect> Step(SweepState state, TrialId id, int assignment, double acc)
    {
        var effects = state.EpochCompleted(id, assignment, Epoch(1, acc)).ToList();
        effects.AddRange(state.TrialCompleted(id, assignment));
        return effects;
    }
}
