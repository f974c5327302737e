using Sweeper.Core.Model;

namespace Sweeper.Core.Trials;

/// <summary>
/// Exponent flips counted from a trial's epochs: the one way the lineage, the group table and the reports count them.
/// </summary>
public static class EpochFlips
{
    /// <summary>
    /// Flips per epoch: the per-epoch metric when the epochs report it, else the increase of the running count since the
    /// last epoch that reported it (the first epoch, or a count that went down after a restart: the count itself).
    /// </summary>
    public static IReadOnlyList<(int Epoch, double Value)> PerEpoch(IReadOnlyList<EpochResult> epochs,
        string perEpochMetric = MetricNames.Quant.FlipsEpoch, string runningMetric = MetricNames.Quant.FlipsTotal)
    {
        var points = new List<(int, double)>();
        foreach (var e in epochs)
            if (e.Get(perEpochMetric) is var v && double.IsFinite(v)) points.Add((e.Epoch, v));
        if (points.Count > 0) return points;
        double? previous = null;
        foreach (var e in epochs)
        {
            var v = e.Get(runningMetric);
            if (!double.IsFinite(v)) continue;
            points.Add((e.Epoch, previous is { } p && v >= p ? v - p : v));
            previous = v;
        }
        return points;
    }

    /// <summary>The network's flips in the epochs after <paramref name="afterEpoch"/>; NaN when no epoch counted any.</summary>
    public static double Total(IReadOnlyList<EpochResult> epochs, int afterEpoch = 0)
    {
        var points = PerEpoch(epochs);
        return points.Count == 0 ? double.NaN : points.Where(p => p.Epoch > afterEpoch).Sum(p => p.Value);
    }
}
