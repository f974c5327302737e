using Sweeper.Core.Model;

namespace Sweeper.Core.Search;

/// <summary>
/// Random search: every active parameter drawn independently from its domain. Configuration
/// <c>i</c> depends only on (seed, i). Ignores observations.
/// </summary>
public sealed class RandomSearcher : SearcherBase
{
    /// <param name="numSamples">How many configurations to propose; null for no limit.</param>
    public RandomSearcher(SearchSpace space, ObjectiveMode mode, long seed, int? numSamples = null)
        : base(space, mode, seed)
    {
        if (numSamples is < 0) throw new ArgumentOutOfRangeException(nameof(numSamples), numSamples, "num_samples must not be negative");
        NumSamples = numSamples;
    }

    public int? NumSamples { get; }
    public override long? Count => NumSamples;

    protected override Suggestion Create(int index, Random random) => new(index, SampleConfiguration(Space, random));
}
