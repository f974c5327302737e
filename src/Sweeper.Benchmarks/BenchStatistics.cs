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
}
