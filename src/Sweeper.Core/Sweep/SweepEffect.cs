using Sweeper.Core.Model;
using Sweeper.Core.Scheduling;
using Sweeper.Core.Stability;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Sweep;

/// <summary>A worker as the sweep state knows it: a number the coordinator gives each worker it sees.</summary>
public readonly record struct WorkerId(int Value);

/// <summary>
/// What <see cref="SweepState"/> decided, for its host to carry out in order: journal entries, messages to workers,
/// timers, and the notes the trace is made of. The state never does any of it itself.
/// </summary>
public abstract record SweepEffect
{
    private SweepEffect() { }

    // ---- The journal: everything a restarted coordinator needs. ----

    /// <summary>A new trial exists (journal it as pending).</summary>
    public sealed record TrialCreated(TrialConfig Config) : SweepEffect;

    /// <summary>
    /// A trial's record changed (journal its row, tell subscribers). <see cref="Before"/> equals <see cref="After"/> for a
    /// record rewritten while the state was rebuilt from a journal (no state change to observe).
    /// </summary>
    public sealed record TrialChanged(TrialRecord Before, TrialRecord After) : SweepEffect
    {
        public bool StateChanged => Before.State != After.State;
    }

    public sealed record EpochRecorded(TrialId Id, EpochResult Result) : SweepEffect;

    /// <summary>The trial continues from epoch <see cref="After"/>: the journal forgets its later epochs.</summary>
    public sealed record EpochsDropped(TrialId Id, int After) : SweepEffect;

    /// <summary>The sweep stops early for <see cref="Reason"/> (journaled once).</summary>
    public sealed record StopReasonSet(string Reason) : SweepEffect;

    /// <summary>An interrupted sweep goes on (<c>sweeper resume</c>): the journal forgets why it stopped.</summary>
    public sealed record StopReasonCleared : SweepEffect;

    // ---- Workers and timers. ----

    /// <summary>Run <see cref="Trial"/> (its config and checkpoint as they are now) on <see cref="Worker"/>, as assignment <see cref="Assignment"/>.</summary>
    public sealed record Assign(WorkerId Worker, TrialRecord Trial, int Assignment) : SweepEffect;

    public sealed record StopTrial(WorkerId Worker, TrialId Id, string Reason) : SweepEffect;

    /// <summary>
    /// The sweep stops gracefully: <see cref="Worker"/> lets assignment <see cref="Assignment"/> of <see cref="Id"/> finish its
    /// current epoch, checkpoint it and stop; the trial reports <see cref="SweepState.TrialPaused"/> (or finishes, if that was its last epoch).
    /// </summary>
    public sealed record StopAfterEpoch(WorkerId Worker, TrialId Id, int Assignment, string Reason) : SweepEffect;

    /// <summary>Call <see cref="SweepState.StartOverdue"/> for this assignment after <see cref="Within"/> (it may never start).</summary>
    public sealed record AwaitStart(TrialId Id, int Assignment, TimeSpan Within) : SweepEffect;

    /// <summary>Call <see cref="SweepState.RequeueDue"/> for <see cref="Id"/> after <see cref="Delay"/> (a restart's backoff).</summary>
    public sealed record RequeueLater(TrialId Id, TimeSpan Delay) : SweepEffect;

    // ---- Decisions, for the trace. ----

    public sealed record SchedulerDecided(TrialId Id, string Scheduler, SchedulerDecision Decision, int Epoch) : SweepEffect;

    public sealed record StabilityJudged(TrialId Id, StabilityKind Verdict, long Step, StabilityAction Action) : SweepEffect;

    /// <summary>A new attempt of the trial was declared (after <see cref="StabilityJudged"/> said restart).</summary>
    public sealed record Restarted(TrialId Id, StabilityKind Verdict, TrialAttempt Attempt) : SweepEffect;

    /// <summary>A trial whose worker went away was queued again, to continue from its newest checkpoint.</summary>
    public sealed record QueuedAgain(TrialId Id, TrialResume Resume) : SweepEffect;

    public sealed record Crashed(TrialId Id, string Error, int AfterEpoch) : SweepEffect;

    public sealed record SweepStopping(string Reason) : SweepEffect;

    /// <summary>Every trial is finished: the sweep's outcome.</summary>
    public sealed record SweepCompleted(SweepResult Result) : SweepEffect;
}
