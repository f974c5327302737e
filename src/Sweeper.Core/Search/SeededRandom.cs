namespace Sweeper.Core.Search;

/// <summary>
/// A seeded xoshiro256** generator behind the <see cref="Random"/> surface, so it can go wherever a
/// <see cref="Random"/> is expected. Unlike <c>new Random(seed)</c>, whose seeded sequence .NET does
/// not promise to keep across versions, this sequence is fixed by this code: a journaled sweep
/// replays the same suggestions on any runtime.
/// </summary>
public sealed class SeededRandom : Random
{
    private Xoshiro256 _state;

    public SeededRandom(long seed) => _state = new Xoshiro256(seed);

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64() => _state.NextUInt64();

    public override int Next() => (int)NextBounded(int.MaxValue);

    public override int Next(int maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxValue);
        return (int)NextBounded((ulong)maxValue);
    }

    public override int Next(int minValue, int maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minValue, maxValue);
        return (int)(minValue + (long)NextBounded((ulong)((long)maxValue - minValue)));
    }

    public override long NextInt64() => (long)NextBounded(long.MaxValue);

    public override long NextInt64(long maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxValue);
        return (long)NextBounded((ulong)maxValue);
    }

    public override long NextInt64(long minValue, long maxValue)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minValue, maxValue);
        return unchecked(minValue + (long)NextBounded(unchecked((ulong)maxValue - (ulong)minValue)));
    }

    /// <summary>A double in [0, 1) with 53 random bits.</summary>
    public override double NextDouble() => _state.NextDouble();

    public override float NextSingle() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    public override void NextBytes(byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        NextBytes(buffer.AsSpan());
    }

    public override void NextBytes(Span<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            ulong r = NextUInt64();
            int n = Math.Min(8, buffer.Length);
            for (int i = 0; i < n; i++) buffer[i] = (byte)(r >> (8 * i));
            buffer = buffer[n..];
        }
    }

    protected override double Sample() => NextDouble();

    /// <summary>Uniform in [0, bound) without modulo bias; 0 when <paramref name="bound"/> is 0.</summary>
    private ulong NextBounded(ulong bound)
    {
        if (bound <= 1) return 0;
        ulong threshold = unchecked(0UL - bound) % bound;
        while (true)
        {
            ulong r = NextUInt64();
            if (r >= threshold) return r % bound;
        }
    }
}
