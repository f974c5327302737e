using System.Numerics;
using Sweeper.Core.Model;

namespace Sweeper.Core.Search;

/// <summary>
/// The xoshiro256** generator as a value: the sequence of <see cref="SeededRandom"/> (which keeps one of these) for
/// per-call draws that should not allocate. A <see cref="Random"/> subclass cannot avoid .NET's compatibility state
/// (a 56-int seed table, filled by its seeding loops) on every construction; a trainable that seeds a generator per
/// epoch uses this instead and draws the same numbers.
/// </summary>
public struct Xoshiro256
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Seeds the state with four SplitMix64 outputs of <paramref name="seed"/>.</summary>
    public Xoshiro256(long seed)
    {
        ulong x = unchecked((ulong)seed);
        _s0 = SplitMix64.Next(ref x);
        _s1 = SplitMix64.Next(ref x);
        _s2 = SplitMix64.Next(ref x);
        _s3 = SplitMix64.Next(ref x);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A double in the open interval (0, 1): <see cref="NextDouble"/> drawn again while it is 0.</summary>
    public double NextOpenDouble()
    {
        double u;
        do u = NextDouble(); while (u <= 0.0 || u >= 1.0);
        return u;
    }

    /// <summary>A standard normal draw, as <see cref="RandomExtensions.NextGaussian"/> draws it from a <see cref="SeededRandom"/>.</summary>
    public double NextGaussian()
    {
        double u1 = NextOpenDouble();
        double u2 = NextDouble();
        return RandomExtensions.BoxMuller(u1, u2);
    }
}
