using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Messages;

/// <summary>Marks the messages that may cross nodes; all of them go through <see cref="Serialization.SweeperMessageSerializer"/>.</summary>
public interface ISweeperMessage;

/// <summary>Between workers and the coordinator: joining and handing out trials.</summary>
public static class WorkerCommands
{
    /// <summary>
    /// A worker offers its slots; the sender is the worker. Repeated all along (a coordinator started again, or moved to
    /// another node, learns of the worker from it); the coordinator counts a worker once.
    /// </summary>
    public sealed record RegisterWorker(string Node, int Slots) : ISweeperMessage;

    /// <summary>
    /// The coordinator knows the worker. <paramref name="Coordinator"/> names the coordinator's incarnation: when it
    /// changes, the coordinator was started again and the worker's running trials belong to one that is gone.
    /// </summary>
    public sealed record WorkerRegistered(string Coordinator) : ISweeperMessage;

    /// <summary>
    /// Run this trial in a free slot; results go to the sender (the coordinator). <paramref name="Assignment"/> numbers
    /// the trial's assignments, so events of an older one are recognised and ignored. <paramref name="ResumeFrom"/>:
    /// continue from this checkpoint. Checkpoints go to <paramref name="CheckpointDir"/> every
    /// <paramref name="CheckpointInterval"/> epochs (0: never).
    /// </summary>
    /// <param name="TraceParent">W3C trace context of the trial's span: the attempt's spans, on whichever node, go under it.</param>
    /// <param name="CrashRetries">Restarts (the worker supervises its trial actors, with backoff from <paramref name="CrashBackoffSeconds"/>) when the trainable throws.</param>
    /// <param name="Monitor">The stability monitor's settings (null: no monitoring).</param>
    /// <param name="ActOn">Verdict kinds (diverged, oscillating, drifting) that end the attempt and go to the coordinator's policy; others are only recorded.</param>
    /// <param name="CheckpointKeep">Checkpoints the assignment keeps in its own folder, besides its newest healthy one (0: all); see <see cref="Journal.CheckpointStore"/>.</param>
    public sealed record AssignTrial(TrialConfig Config, int Assignment, CheckpointRef? ResumeFrom, string CheckpointDir, int CheckpointInterval,
        string? TraceParent = null, int CrashRetries = 2, double CrashBackoffSeconds = 1,
        Core.Stability.StabilityOptions? Monitor = null, IReadOnlyList<StabilityKind>? ActOn = null,
        int CheckpointKeep = Journal.CheckpointStore.DefaultKeep) : ISweeperMessage;

    /// <summary>
    /// To a trial actor: the coordinator has journaled its checkpoint after <paramref name="Epoch"/> (the trial resumes
    /// from it, or a newer one, if it moves): older checkpoints of the assignment may go, that one may not.
    /// </summary>
    public sealed record CheckpointRecorded(TrialId Id, int Assignment, int Epoch) : ISweeperMessage;

    /// <summary>Stop a running trial (the sweep is being cancelled).</summary>
    public sealed record StopTrial(TrialId Id, string Reason) : ISweeperMessage;

    /// <summary>
    /// The sweep stops gracefully: assignment <paramref name="Assignment"/> of the trial finishes its current epoch, saves
    /// that epoch's checkpoint (checkpoints on) and stops with <see cref="TrialEvents.TrialPaused"/> (or completes, if that
    /// was its last epoch). It holds for the rest of the assignment (a restart after a crash stops at once).
    /// </summary>
    public sealed record StopAfterEpoch(TrialId Id, int Assignment, string Reason) : ISweeperMessage;
}

/// <summary>From a trial actor to the coordinator: what happened to the trial.</summary>
public static class TrialEvents
{
    /// <summary>The trial runs on <paramref name="Node"/>, starting after epoch <paramref name="FromEpoch"/> (0: from scratch).</summary>
    public sealed record TrialStarted(TrialId Id, int Assignment, string Node, int FromEpoch) : ISweeperMessage;

    public sealed record EpochCompleted(TrialId Id, int Assignment, EpochResult Result) : ISweeperMessage;

    /// <param name="Healthy">The monitor was healthy over the whole epoch before it: a rollback may go back to it.</param>
    public sealed record CheckpointSaved(TrialId Id, int Assignment, CheckpointRef Checkpoint, bool Healthy = true) : ISweeperMessage;

    /// <summary>The stability monitor judged the attempt unstable; the attempt has stopped and waits for the coordinator's policy.</summary>
    /// <param name="Flips">Exponent changes the attempt made, step by step, up to the verdict.</param>
    public sealed record TrialUnstable(TrialId Id, int Assignment, Core.Stability.StabilityVerdict Verdict, int LastEpoch, long Flips = 0) : ISweeperMessage;

    /// <summary>
    /// Asked to stop after its epoch (<see cref="WorkerCommands.StopAfterEpoch"/>), the trial stopped after epoch
    /// <paramref name="AfterEpoch"/>; that epoch's result and checkpoint were sent before.
    /// </summary>
    public sealed record TrialPaused(TrialId Id, int Assignment, int AfterEpoch) : ISweeperMessage;

    public sealed record TrialCompleted(TrialId Id, int Assignment) : ISweeperMessage;

    public sealed record TrialFailed(TrialId Id, int Assignment, string Error) : ISweeperMessage;

    /// <summary>The trainable threw after <paramref name="AfterEpoch"/> epochs; supervision restarts it (or gives up: then <see cref="TrialFailed"/> follows).</summary>
    public sealed record TrialCrashed(TrialId Id, int Assignment, string Error, int AfterEpoch) : ISweeperMessage;
}

/// <summary>Asking the coordinator about the sweep, and what it tells subscribers.</summary>
public static class SweepQueries
{
    /// <summary>
    /// Subscribes the sender to <see cref="TrialUpdated"/> and <see cref="SweepCompleted"/>; it gets the current state at
    /// once. Repeating it changes nothing (watchers repeat it, so that a coordinator started again learns of them).
    /// </summary>
    public sealed record Subscribe : ISweeperMessage
    {
        public static readonly Subscribe Instance = new();
        private Subscribe() { }
    }

    /// <summary>
    /// The sweep is interrupted (Ctrl+C, SIGTERM, <c>sweeper stop</c>): nothing new starts, pending trials are stopped,
    /// running ones are stopped at once or, when <paramref name="Graceful"/>, after their current epoch and its checkpoint.
    /// <c>sweeper resume</c> continues the trials stopped so.
    /// </summary>
    public sealed record CancelSweep(string Reason, bool Graceful = false) : ISweeperMessage;

    /// <summary>Asks the coordinator how far the sweep is; the answer is a <see cref="SweepStatus"/>.</summary>
    public sealed record GetStatus : ISweeperMessage
    {
        public static readonly GetStatus Instance = new();
        private GetStatus() { }
    }

    /// <param name="Total">Trials the sweep will have in all, when known.</param>
    public sealed record SweepStatus(int Created, int Finished, int Running, long? Total, bool Completed) : ISweeperMessage;

    public sealed record TrialUpdated(TrialRecord Trial) : ISweeperMessage;

    public sealed record SweepCompleted(SweepResult Result) : ISweeperMessage;
}
