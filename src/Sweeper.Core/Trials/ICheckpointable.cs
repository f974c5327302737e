namespace Sweeper.Core.Trials;

/// <summary>
/// A trainable that can save everything it needs to continue (model, optimizer, quantizer state, RNG state, epoch)
/// and continue from such a file on any machine. A trainable without it restarts from scratch when moved.
/// </summary>
public interface ICheckpointable
{
    /// <summary>
    /// Saves the state after <paramref name="epoch"/> (1-based) to <paramref name="path"/>, writing that file in place.
    /// Callers write atomically: they pass a temp file in the checkpoint's folder and rename it into place once this
    /// returns (the sweep's checkpoint store does), so an implementation needs no temp file or rename of its own.
    /// </summary>
    void SaveCheckpoint(string path, int epoch);

    /// <summary>Restores the state saved by <see cref="SaveCheckpoint"/>; returns the epoch it was saved after.</summary>
    int LoadCheckpoint(string path);
}

/// <summary>A saved checkpoint of a trial: after which epoch, and where.</summary>
public sealed record CheckpointRef(int Epoch, string Path);

/// <summary>
/// A trainable that reports every training step (loss, gradient norm, per-layer exponents) to an observer on its own
/// thread, so the stability monitor can judge each step.
/// </summary>
public interface IReportsSteps
{
    /// <summary>Sets (or, with null, clears) the observer called after each training step.</summary>
    void ObserveSteps(Action<Stability.StepObservation>? observer);
}
