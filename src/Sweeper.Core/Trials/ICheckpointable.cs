namespace Sweeper.Core.Trials;

/// <summary>
/// A trainable that can save everything it needs to continue (model, optimizer, quantizer state, RNG state, epoch)
/// and continue from such a file on any machine. A trainable without it restarts from scratch when moved.
/// </summary>
public interface ICheckpointable
{
    /// <summary>Saves the state after <paramref name="epoch"/> (1-based) to <paramref name="path"/>.</summary>
    void SaveCheckpoint(string path, int epoch);

    /// <summary>Restores the state saved by <see cref="SaveCheckpoint"/>; returns the epoch it was saved after.</summary>
    int LoadCheckpoint(string path);
}

/// <summary>A saved checkpoint of a trial: after which epoch, and where.</summary>
public sealed record CheckpointRef(int Epoch, string Path);

/// <summary>A trial that was queued again (its worker went away) and continued from a checkpoint (epoch 0: from scratch).</summary>
public sealed record TrialResume(int FromEpoch, string Reason, DateTimeOffset At);

/// <summary>An exception in the trainable: the trial actor was restarted by its supervisor (with backoff) from its newest checkpoint.</summary>
public sealed record TrialCrash(string Error, int AfterEpoch, DateTimeOffset At);
