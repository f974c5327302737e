namespace Sweeper.Core.Model;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): the one seed mixer of the code base. Seeds of trials, searchers, data splits
/// and trainables' generators are all derived with it.
/// </summary>
public static class SplitMix64
{
    public const ulong Gamma = 0x9E3779B97F4A7C15UL;

    /// <summary>The finalizer applied to <paramref name="z"/> + γ: a bijective 64-bit mix.</summary>
    public static ulong Mix(ulong z)
    {
        unchecked
        {
            z += Gamma;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Advances <paramref name="state"/> by γ and returns the next output of the generator.</summary>
    public static ulong Next(ref ulong state)
    {
        var z = state;
        unchecked { state += Gamma; }
        return Mix(z);
    }
}
