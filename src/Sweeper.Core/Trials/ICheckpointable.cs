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

/// <summary>
/// A trainable that reports every training step (loss, gradient norm, per-layer exponents) to an observer on its own
/// thread, so the stability monitor can judge each step.
/// </summary>
public interface IReportsSteps
{
    /// <summary>Sets (or, with null, clears) the observer called after each training step.</summary>
    void ObserveSteps(Action<Stability.StepObservation>? observer);
}

/// <summary>
/// One attempt of a trial: attempt 1 is the first run; each restart for instability starts a new one from a checkpoint
/// (or the start) with the declared changes applied cumulatively.
/// </summary>
public sealed record TrialAttempt
{
    public required int Number { get; init; }
    /// <summary>The epoch it started after (0: from scratch).</summary>
    public int FromEpoch { get; init; }
    public string? ParentCheckpoint { get; init; }
    /// <summary>The values of the keys changed for this attempt (cumulative over restarts).</summary>
    public IReadOnlyList<KeyValuePair<string, object>> Changes { get; init; } = [];
    public DateTimeOffset StartedAt { get; init; }
    /// <summary>What ended it: a verdict kind (diverged, oscillating, drifting), or null while running or when it finished.</summary>
    public string? Verdict { get; init; }
    public string? Reason { get; init; }
    /// <summary>The training step at which the verdict was reached.</summary>
    public long? Step { get; init; }
    public int LastEpoch { get; init; }
    /// <summary>Exponent flips counted over this attempt's epochs (quant.flips_epoch).</summary>
    public long Flips { get; init; }
}
