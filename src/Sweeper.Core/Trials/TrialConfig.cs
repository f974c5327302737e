using Sweeper.Core.Spec;
using Sweeper.Core.Model;

namespace Sweeper.Core.Trials;

/// <summary>Everything a worker needs to run one trial.</summary>
public sealed record TrialConfig
{
    public required TrialId Id { get; init; }
    /// <summary>The trial's own seed (model init, data order), derived from the sweep seed.</summary>
    public required long Seed { get; init; }
    /// <summary>The swept parameters of this trial, by dotted key, in spec order.</summary>
    public required IReadOnlyList<KeyValuePair<string, object>> Parameters { get; init; }
    /// <summary>The trainable settings with the parameters applied.</summary>
    public required TrainableSpec Trainable { get; init; }
    /// <summary>Which configuration of the search this trial runs (0-based); repeats of it share it.</summary>
    public int ConfigIndex { get; init; }
    /// <summary>Which repeat (seed) of its configuration this trial is (0-based).</summary>
    public int Repeat { get; init; }
}
