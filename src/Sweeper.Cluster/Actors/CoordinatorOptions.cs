namespace Sweeper.Cluster.Actors;

/// <summary>Where a coordinator keeps its journal and its trials' checkpoints.</summary>
/// <param name="RunDirectory">The run directory (holds the journal); null: no journal (tests, benchmarks without it).</param>
/// <param name="CheckpointDir">The folder trials checkpoint to; every worker must reach it.</param>
/// <param name="OnFatal">Called when the coordinator cannot start (e.g. an unreadable journal), so its host can stop instead of waiting.</param>
public sealed record CoordinatorOptions(string? RunDirectory, string CheckpointDir, Action<string>? OnFatal = null);
