using Sweeper.Core.Model;

namespace Sweeper.Core.Search;

/// <summary>
/// Seed derivation by SplitMix64 hashing. Every random choice in a sweep comes from a seed derived
/// from the sweep seed and the indices it belongs to, so each one is a pure function of those
/// indices (not of the order in which work happened).
/// </summary>
public static class Seeds
{
    /// <summary>Stream tag for searcher sampling (per configuration index).</summary>
    public const long SearchStream = 0x5EA6C4;
    /// <summary>Stream tag for trial seeds (per configuration and repeat index).</summary>
    public const long TrialStream = 0x7E1A15;

    /// <summary>
    /// A non-negative seed derived from <paramref name="seed"/> and <paramref name="parts"/>
    /// (order matters): <c>Mix(…Mix(Mix(seed) + part0)… + partN)</c>, top bit cleared.
    /// </summary>
    public static long Derive(long seed, params ReadOnlySpan<long> parts)
    {
        unchecked
        {
            ulong h = SplitMix64.Mix((ulong)seed);
            foreach (long p in parts) h = SplitMix64.Mix(h + (ulong)p);
            return (long)(h & long.MaxValue);
        }
    }

    /// <summary>
    /// The seed of the trial that runs configuration <paramref name="configIndex"/> for the
    /// <paramref name="repeatIndex"/>-th time, kept within 31 bits so that every RNG (including
    /// <c>new Random(int)</c>) can take it unchanged, like the grid planner's trial seeds.
    /// </summary>
    public static long ForTrial(long sweepSeed, int configIndex, int repeatIndex) =>
        Derive(sweepSeed, TrialStream, configIndex, repeatIndex) & 0x7FFFFFFF;

    /// <summary>The seed a searcher samples configuration <paramref name="configIndex"/> with.</summary>
    public static long ForSuggestion(long searcherSeed, int configIndex) =>
        Derive(searcherSeed, SearchStream, configIndex);
}
