using Sweeper.Core.Spec;

namespace Sweeper.Core.Trials;

/// <summary>Turns a spec into trial configs: the cartesian grid of every parameter's values (first key slowest).</summary>
public static class TrialPlanner
{
    public static IReadOnlyList<TrialConfig> Grid(SweepSpec spec)
    {
        var combos = new List<List<KeyValuePair<string, object>>> { new() };
        foreach (var p in spec.Parameters)
            combos = combos.SelectMany(c => p.Values.Select(v => new List<KeyValuePair<string, object>>(c) { new(p.Key, v) })).ToList();
        return combos.Select((parameters, i) => new TrialConfig
        {
            Id = new TrialId(i + 1),
            Seed = TrialSeed(spec.Seed, i + 1),
            Parameters = parameters,
            Trainable = SpecLoader.Apply(spec, parameters).Trainable,
        }).ToList();
    }

    /// <summary>A trial's seed: SplitMix64 of the sweep seed and the trial index, kept within 31 bits for every RNG.</summary>
    public static long TrialSeed(long sweepSeed, int trialIndex)
    {
        ulong z = unchecked((ulong)sweepSeed + 0x9E3779B97F4A7C15UL * (ulong)(trialIndex + 1));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (long)(z & 0x7FFFFFFF);
    }
}
