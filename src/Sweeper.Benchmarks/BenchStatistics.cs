namespace Sweeper.Benchmarks;

/// <summary>What the bench commands summarize their rounds with.</summary>
public static class BenchStatistics
{
    /// <summary>The median of <paramref name="values"/> (NaN when empty).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n == 0 ? double.NaN : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>
    /// The <paramref name="p"/>-quantile of <paramref name="values"/> (0 ≤ p ≤ 1), interpolated linearly between the
    /// order statistics at rank p·(n − 1) (NaN when empty): 0 gives the least, 0.5 the median, 1 the largest.
    /// </summary>
    public static double Quantile(IReadOnlyList<double> values, double p)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "A quantile's p must be in [0, 1].");
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        double rank = p * (sorted.Length - 1);
        int below = (int)Math.Floor(rank);
        if (rank == below) return sorted[below]; // an order statistic itself: no interpolation (0 · (∞ − ∞) would be NaN)
        return sorted[below] + (rank - below) * (sorted[below + 1] - sorted[below]);
    }
}
