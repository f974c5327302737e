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

    /// <summary>
    /// A distribution-free confidence interval for the median of the population <paramref name="values"/> were drawn from
    /// (independent draws, any continuous distribution): the order statistics x₍ⱼ₎ and x₍ₙ₊₁₋ⱼ₎ with the largest j for which
    /// P(B &lt; j) ≤ (1 − confidence)/2, B ~ Binomial(n, ½), so that the interval covers the median with probability at
    /// least <paramref name="confidence"/>. With too few values for any such j (n ≤ 5 at 95 %) the interval is the whole
    /// range from −∞ to ∞; NaN, NaN when empty. How far one bench run's median ratio can be trusted: a target is met for
    /// certain only when the whole interval is within it.
    /// </summary>
    public static (double Lower, double Upper) MedianInterval(IReadOnlyList<double> values, double confidence = 0.95)
    {
        if (!(confidence > 0 && confidence < 1)) throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "A confidence must be in (0, 1).");
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        if (n == 0) return (double.NaN, double.NaN);
        double tail = (1 - confidence) / 2;
        // P(B = k) for k = 0, 1, ... by the ratio of successive terms, from P(B = 0) = 2^−n (in log space: n may be large).
        double logTerm = -n * Math.Log(2), below = 0; // below = P(B < j)
        int j = 0;
        for (int k = 0; k < n / 2; k++)
        {
            below += Math.Exp(logTerm); // now P(B ≤ k) = P(B < k + 1)
            if (below > tail) break;
            j = k + 1;
            logTerm += Math.Log(n - k) - Math.Log(k + 1);
        }
        return j == 0 ? (double.NegativeInfinity, double.PositiveInfinity) : (sorted[j - 1], sorted[n - j]);
    }

    /// <summary>
    /// Whether a measure whose median lies in <paramref name="interval"/> (<see cref="MedianInterval"/>) is at most
    /// <paramref name="target"/>: "met" when the whole interval is, "not met" when none of it is, else "undecided" (the
    /// run could not tell: more rounds narrow the interval).
    /// </summary>
    public static string AtMost((double Lower, double Upper) interval, double target) =>
        interval.Upper <= target ? "met" : interval.Lower > target ? "not met" : "undecided";
}
