using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Messages;

/// <summary>Between workers and the coordinator: joining and handing out trials.</summary>
public static class WorkerCommands
{
    /// <summary>A worker offers its slots; the sender is the worker. Repeated until acknowledged.</summary>
    public sealed record RegisterWorker(string Node, int Slots);

    /// <summary>The coordinator knows the worker.</summary>
    public sealed record WorkerRegistered
    {
        public static readonly WorkerRegistered Instance = new();
        private WorkerRegistered() { }
    }

    /// <summary>Run this trial in a free slot. Results go to the sender (the coordinator).</summary>
    public sealed record AssignTrial(TrialConfig Config);

    /// <summary>Stop a running trial (the sweep is being cancelled).</summary>
    public sealed record StopTrial(TrialId Id, string Reason);
}

/// <summary>From a trial actor to the coordinator: what happened to the trial.</summary>
public static class TrialEvents
{
    public sealed record TrialStarted(TrialId Id, string Node);

    public sealed record EpochCompleted(TrialId Id, EpochResult Result);

    public sealed record TrialCompleted(TrialId Id);

    public sealed record TrialFailed(TrialId Id, string Error);
}

/// <summary>Asking the coordinator about the sweep, and what it tells subscribers.</summary>
public static class SweepQueries
{
    /// <summary>Subscribes the sender to <see cref="TrialUpdated"/> and <see cref="SweepCompleted"/>; it gets the current state at once.</summary>
    public sealed record Subscribe
    {
        public static readonly Subscribe Instance = new();
        private Subscribe() { }
    }

    /// <summary>Cancel the sweep: pending trials are stopped, running ones are asked to stop.</summary>
    public sealed record CancelSweep(string Reason);

    public sealed record TrialUpdated(TrialResult Trial);

    public sealed record SweepCompleted(SweepResult Result);
}
