using Sweeper.Core.Model;
using Sweeper.Core.Stability;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Tests.Sweep;

/// <summary>Interrupting a sweep (sweeper stop, --now, Ctrl+C) and continuing it from the journal.</summary>
public sealed partial class SweepStateTests
{
    private const string ByRequest = "stopped by request of pid 7 on host at 2026-01-01 00:00:00Z (sweeper stop)";

    private static readonly TrialId T1 = new(1), T2 = new(2);

    /// <summary>Two workers of one slot: t0001 runs on A, t0002 on B, both in their first assignment.</summary>
    private static SweepState TwoRunning(string extra = "", int epochs = 3)
    {
        var state = State(Spec(extra, epochs: epochs));
        state.Start();
        state.WorkerJoined(A, "node-a", 1);
        state.WorkerJoined(B, "node-b", 1);
        return state;
    }

    [Fact]
    public void Interrupt_Graceful_RunningAskedToStopAfterEpoch_NothingNewStarts_PausedTrialsStoppedAsInterrupted()
    {
        var state = TwoRunning();
        state.EpochCompleted(T1, 1, Epoch(1, 0.5));

        var effects = state.Interrupt(ByRequest, graceful: true);

        Assert.Equal([new SweepEffect.StopAfterEpoch(A, T1, 1, ByRequest), new SweepEffect.StopAfterEpoch(B, T2, 1, ByRequest)],
            effects.OfType<SweepEffect.StopAfterEpoch>());
        Assert.Equal(ByRequest, Assert.Single(effects.OfType<SweepEffect.StopReasonSet>()).Reason);
        Assert.Empty(effects.OfType<SweepEffect.StopTrial>());
        Assert.Empty(effects.OfType<SweepEffect.SweepCompleted>());
        Assert.True(state.Draining);
        Assert.Equal(TrialState.Running, state[T1].State); // it finishes its epoch first

        // t0001 finishes epoch 2, checkpoints it and stops; its slot stays empty.
        state.EpochCompleted(T1, 1, Epoch(2, 0.6));
        state.CheckpointSaved(T1, 1, new CheckpointRef(2, "/c/t0001/2"), healthy: true);
        var paused = state.TrialPaused(T1, 1);
        Assert.Empty(Assigns(paused));
        Assert.Empty(paused.OfType<SweepEffect.TrialCreated>());
        Assert.Equal((TrialState.Stopped, true, ByRequest), (state[T1].State, state[T1].Interrupted, state[T1].Reason));
        Assert.Equal([1, 2], state[T1].Epochs.Select(e => e.Epoch));
        Assert.Equal(2, state[T1].Checkpoint!.Epoch);
        Assert.Empty(paused.OfType<SweepEffect.SweepCompleted>()); // t0002 still runs its epoch

        var done = Assert.Single(state.TrialPaused(T2, 1).OfType<SweepEffect.SweepCompleted>()).Result;
        Assert.Equal(ByRequest, done.StopReason);
        Assert.Equal([1, 2], done.Trials.Select(t => t.Id.Index)); // t0003 was never created
        Assert.All(done.Trials, t => Assert.True(t.Interrupted));
        Assert.Empty(state.Interrupt("again", graceful: true));
    }

    [Fact]
    public void Interrupt_GracefulAgain_ChangesNothing_ThenNow_StopsTheRunningAtOnceKeepingTheFirstReason()
    {
        var state = TwoRunning();
        state.Interrupt(ByRequest, graceful: true);
        Assert.Empty(state.Interrupt("a second graceful request", graceful: true));
        state.TrialPaused(T1, 1);

        var effects = state.Interrupt("stopped at once by request", graceful: false);

        Assert.Equal(new SweepEffect.StopTrial(B, T2, "stopped at once by request"), Assert.Single(effects.OfType<SweepEffect.StopTrial>()));
        var done = Assert.Single(effects.OfType<SweepEffect.SweepCompleted>()).Result;
        Assert.Equal(ByRequest, done.StopReason);
        Assert.All(done.Trials, t => Assert.Equal((TrialState.Stopped, true), (t.State, t.Interrupted)));
    }

    [Fact]
    public void Interrupt_Graceful_WorkerLeavesOrRestartIsDue_TrialStoppedAsInterruptedNotStartedAgain()
    {
        var state = TwoRunning("""
            stability:
              diverged: {action: restart, from: start, max_restarts: 2}
            """);
        state.Interrupt(ByRequest, graceful: true);

        var left = state.WorkerLeft(A);
        var verdict = StabilityVerdict.Unhealthy(StabilityKind.Diverged,
            new StabilityEvidence(StabilitySignal.NonFiniteLoss, 3, null, null, 0, double.NaN, double.NaN, double.NaN, [], "loss is NaN"));
        var restarted = state.TrialUnstable(T2, 1, verdict, 0, 0);

        Assert.Empty(Assigns(left));
        Assert.Empty(Assigns(restarted));
        Assert.Single(restarted.OfType<SweepEffect.Restarted>()); // the new attempt is declared: resume runs it
        Assert.All(new[] { state[T1], state[T2] }, t => Assert.Equal((TrialState.Stopped, true), (t.State, t.Interrupted)));
        Assert.Single(restarted.OfType<SweepEffect.SweepCompleted>());
        Assert.Empty(Assigns(state.WorkerJoined(new WorkerId(3), "node-c", 2)));
    }

    [Fact]
    public void TrialPaused_OfAnOlderAssignmentOrWhenNotRunning_Ignored()
    {
        var state = TwoRunning();
        state.Interrupt(ByRequest, graceful: true);

        Assert.Empty(state.TrialPaused(T1, 7));
        Assert.Equal(TrialState.Running, state[T1].State);
        Assert.NotEmpty(state.TrialPaused(T1, 1));
        Assert.Empty(state.TrialPaused(T1, 1));
    }

    [Fact]
    public void Interrupt_Now_PendingAndRunningStoppedAsInterrupted_TimeBudgetStopIsNot()
    {
        var interrupted = TwoRunning();
        interrupted.WorkerLeft(B); // t0002 queued again
        var budget = TwoRunning();
        budget.WorkerLeft(B);

        var now = interrupted.Interrupt("cancelled by the user", graceful: false);
        budget.Stop("time budget of 1 min used up");

        Assert.Equal(new SweepEffect.StopTrial(A, T1, "cancelled by the user"), Assert.Single(now.OfType<SweepEffect.StopTrial>()));
        Assert.All(interrupted.Trials, t => Assert.Equal((TrialState.Stopped, true), (t.State, t.Interrupted)));
        Assert.All(budget.Trials, t => Assert.Equal((TrialState.Stopped, false), (t.State, t.Interrupted)));
    }

    [Fact]
    public void Stop_TrialWaitingOutARestartBackoff_StoppedTooAndNotStartedWhenTheBackoffEnds()
    {
        var state = TwoRunning("""
            stability:
              diverged: {action: restart, from: start, max_restarts: 1, backoff: 5s}
            """);
        var verdict = StabilityVerdict.Unhealthy(StabilityKind.Diverged,
            new StabilityEvidence(StabilitySignal.NonFiniteLoss, 3, null, null, 0, double.NaN, double.NaN, double.NaN, [], "loss is NaN"));
        state.TrialUnstable(T1, 1, verdict, 0, 0); // pending until the backoff ends

        var effects = state.Interrupt("cancelled by the user", graceful: false);

        Assert.Equal((TrialState.Stopped, true), (state[T1].State, state[T1].Interrupted));
        Assert.Single(effects.OfType<SweepEffect.SweepCompleted>());
        Assert.Empty(state.RequeueDue(T1));
    }

    [Fact]
    public void Start_FromAJournalOfAnInterruptedSweep_InterruptedTrialsContinueFromTheirCheckpoint_OthersStayStopped()
    {
        // Three trials: t0001 ran 3 epochs (checkpoint after 2), t0002 was queued again and never ran since, t0003 an
        // ASHA-like stop of the scheduler: only the interrupted ones go on.
        var first = State(Spec(epochs: 5));
        first.Start();
        first.WorkerJoined(A, "node-a", 1);
        first.EpochCompleted(T1, 1, Epoch(1, 0.5));
        first.EpochCompleted(T1, 1, Epoch(2, 0.6));
        first.CheckpointSaved(T1, 1, new CheckpointRef(2, "/c/t0001/2"), healthy: true);
        first.EpochCompleted(T1, 1, Epoch(3, 0.7));
        first.Interrupt("cancelled by the user", graceful: false);
        var schedulerStopped = new TrialRecord
        {
            Config = first[T1].Config with { Id = new TrialId(3) }, State = TrialState.Stopped, Reason = "asha: below the rung", Rung = 1, Assignment = 1,
        };
        var neverRan = new TrialRecord { Config = first[T1].Config with { Id = T2 }, State = TrialState.Stopped, Reason = "cancelled by the user", Interrupted = true };
        var journaled = first.Trials.Append(neverRan).Append(schedulerStopped).ToList();

        var resumed = State(Spec(epochs: 5));
        var effects = resumed.Start(journaled, T0);

        Assert.Single(effects.OfType<SweepEffect.StopReasonCleared>());
        Assert.Equal(new SweepEffect.EpochsDropped(T1, 2), Assert.Single(effects.OfType<SweepEffect.EpochsDropped>()));
        var t1 = resumed[T1];
        Assert.Equal((TrialState.Pending, false, null), (t1.State, t1.Interrupted, t1.Reason));
        Assert.Equal([1, 2], t1.Epochs.Select(e => e.Epoch));
        Assert.Equal(2, Assert.Single(t1.Resumes).FromEpoch);
        Assert.Contains("cancelled by the user", t1.Resumes[0].Reason);
        Assert.Equal((TrialState.Pending, false), (resumed[T2].State, resumed[T2].Interrupted));
        Assert.Empty(resumed[T2].Resumes);
        Assert.Equal(TrialState.Stopped, resumed[new TrialId(3)].State);
        Assert.Equal(1, resumed.Finished);

        var assigned = Assigns(resumed.WorkerJoined(B, "node-b", 2));
        Assert.Equal([(1, 2, 2), (2, 1, 0)], assigned.Select(a => (a.Trial.Id.Index, a.Assignment, a.Trial.Checkpoint?.Epoch ?? 0)));
    }

    [Fact]
    public void MoveTo_StoppedToPending_OnlyForAnInterruptedTrial()
    {
        var config = new TrialRecord { Config = new TrialConfig { Id = T1, Seed = 1, Parameters = [], Trainable = Spec().Trainable } };
        var stopped = config with { State = TrialState.Stopped };

        Assert.Throws<InvalidOperationException>(() => stopped.MoveTo(TrialState.Pending));
        Assert.Equal(TrialState.Pending, (stopped with { Interrupted = true }).MoveTo(TrialState.Pending).State);
        Assert.False(TrialStateMachine.CanMove(TrialState.Stopped, TrialState.Pending));
        Assert.False(TrialStateMachine.CanMove(TrialState.Completed, TrialState.Pending, interrupted: true));
    }
}
