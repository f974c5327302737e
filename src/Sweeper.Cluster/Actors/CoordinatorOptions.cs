using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Actors;

/// <summary>Where a coordinator keeps its journal and its trials' checkpoints, and how it copes when things go wrong.</summary>
/// <param name="RunDirectory">The run directory (holds the journal); null: no journal (tests, benchmarks without it).</param>
/// <param name="CheckpointDir">The folder trials checkpoint to; every worker must reach it.</param>
/// <param name="OnFatal">
/// Called when the coordinator cannot go on — it cannot start (e.g. an unreadable journal), or its journal cannot be
/// written even after <see cref="JournalRetry"/> — so its host can stop instead of waiting. The coordinator stops after it.
/// </param>
public sealed record CoordinatorOptions(string? RunDirectory, string CheckpointDir, Action<CoordinatorFailure>? OnFatal = null)
{
    /// <summary>How a failed journal write (locked, disk full) is retried before the sweep fails.</summary>
    public JournalRetry JournalRetry { get; init; } = JournalRetry.Default;

    /// <summary>How long an assignment may take to start on its worker before the trial is queued again.</summary>
    public TimeSpan StartTimeout { get; init; } = SweepState.DefaultStartTimeout;
}

/// <summary>Why the coordinator gave up, with the sweep's trials as far as it knew them (null when it never started).</summary>
public sealed record CoordinatorFailure(string Message, SweepResult? SoFar);

/// <summary>The exception a host reports a <see cref="CoordinatorFailure"/> with.</summary>
public sealed class CoordinatorFailedException(CoordinatorFailure failure) : Exception(failure.Message)
{
    public CoordinatorFailure Failure { get; } = failure;
}

/// <summary>
/// Retries of a journal write: <see cref="Attempts"/> tries in all; each waits up to <see cref="BusyTimeout"/> (whole
/// seconds, at least 1) for a lock another connection holds; between tries the coordinator waits <see cref="FirstDelay"/>, twice as long each time, at most
/// <see cref="MaxDelay"/>. It keeps handling messages meanwhile (nothing it decides is sent before it is journaled).
/// </summary>
public sealed record JournalRetry(int Attempts, TimeSpan FirstDelay, TimeSpan MaxDelay, TimeSpan BusyTimeout)
{
    /// <summary>5 tries over about 11 s: waits of 0.5, 1, 2 and 2.5 s between tries of up to 1 s each.</summary>
    public static readonly JournalRetry Default = new(5, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(1));

    /// <summary>The wait after the <paramref name="failures"/>-th failed try.</summary>
    public TimeSpan DelayAfter(int failures) =>
        TimeSpan.FromTicks(Math.Min(MaxDelay.Ticks, FirstDelay.Ticks * (1L << Math.Clamp(failures - 1, 0, 30))));

    /// <summary>The longest time from the first failed try to giving up.</summary>
    public TimeSpan Window => BusyTimeout * Attempts + TimeSpan.FromTicks(Enumerable.Range(1, Math.Max(0, Attempts - 1)).Sum(f => DelayAfter(f).Ticks));
}
