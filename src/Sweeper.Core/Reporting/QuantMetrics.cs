using Sweeper.Core.Trials;

namespace Sweeper.Core.Reporting;

/// <summary>
/// Names of the quantizer diagnostics a quantized trial reports each epoch, and their per-layer series:
/// <c>quant.&lt;layer&gt;.exponent_mean</c>, <c>quant.&lt;layer&gt;.flips</c> (running count) or
/// <c>quant.&lt;layer&gt;.flips_epoch</c>, ..., and for the whole network <c>quant.flips_total</c> (running count) and
/// <c>quant.flips_epoch</c>. A layer name may itself hold dots (<c>features.3.conv</c>).
/// </summary>
public static class QuantMetrics
{
    public const string Prefix = "quant.";
    public const string FlipsTotal = "quant.flips_total";
    public const string FlipsEpoch = "quant.flips_epoch";
    /// <summary>Fraction of all quantized weights whose code was clipped to ±qp.</summary>
    public const string ClippedFraction = "quant.clipped_fraction";
    public const string ZeroFraction = "quant.zero_fraction";
    /// <summary>1 − Σ inlier MSQE / Σ MSQE: the share of the quantization error the outliers cause.</summary>
    public const string OutlierMsqeShare = "quant.outlier_msqe_share";
    public const string SecondMomentSpread = "quant.sm_weight_cv";
    public const string ExponentMeanSuffix = ".exponent_mean";
    public const string LayerFlipsSuffix = ".flips";
    public const string LayerFlipsEpochSuffix = ".flips_epoch";

    /// <summary>The layer of a per-layer metric with <paramref name="suffix"/>, or null.</summary>
    public static string? LayerOf(string metric, string suffix) =>
        metric.Length > Prefix.Length + suffix.Length && metric.StartsWith(Prefix, StringComparison.Ordinal) && metric.EndsWith(suffix, StringComparison.Ordinal)
            ? metric[Prefix.Length..^suffix.Length]
            : null;
}

/// <summary>One value per epoch; epochs without a finite value are left out.</summary>
public sealed record EpochSeries(IReadOnlyList<(int Epoch, double Value)> Points)
{
    public static EpochSeries Of(IEnumerable<EpochResult> epochs, string metric) =>
        new(epochs.Select(e => (e.Epoch, e.Get(metric))).Where(p => double.IsFinite(p.Item2)).ToList());

    public bool IsEmpty => Points.Count == 0;
}

/// <summary>One layer of a quantized trial: its mean exponent and its flips, epoch by epoch.</summary>
public sealed record LayerTrace(string Layer, EpochSeries ExponentMean, EpochSeries FlipsPerEpoch)
{
    public double TotalFlips => FlipsPerEpoch.Points.Sum(p => p.Value);
}

/// <summary>The quantizer diagnostics of one trial: each layer's trace and the network's flips per epoch.</summary>
public sealed record QuantTrace(TrialResult Trial, IReadOnlyList<LayerTrace> Layers, EpochSeries FlipsPerEpoch)
{
    /// <summary>The trace of <paramref name="trial"/>, or null when it reports no <c>exponent_mean</c> of any layer.</summary>
    public static QuantTrace? From(TrialResult trial)
    {
        // Layers in the order the trainable reports them (the model's order), not sorted as text.
        var layers = new List<string>();
        foreach (var e in trial.Epochs)
            foreach (var key in e.Metrics.Keys)
                if (QuantMetrics.LayerOf(key, QuantMetrics.ExponentMeanSuffix) is { } layer && !layers.Contains(layer))
                    layers.Add(layer);
        if (layers.Count == 0) return null;
        var traces = layers.Select(l => new LayerTrace(l,
            EpochSeries.Of(trial.Epochs, QuantMetrics.Prefix + l + QuantMetrics.ExponentMeanSuffix),
            PerEpoch(trial.Epochs, QuantMetrics.Prefix + l + QuantMetrics.LayerFlipsEpochSuffix, QuantMetrics.Prefix + l + QuantMetrics.LayerFlipsSuffix))).ToList();
        return new QuantTrace(trial, traces, PerEpoch(trial.Epochs, QuantMetrics.FlipsEpoch, QuantMetrics.FlipsTotal));
    }

    /// <summary>
    /// Flips per epoch: the per-epoch metric when the trial reports it, else the increase of the running count since the
    /// last epoch that reported it (the first epoch, or a count that went down: the count itself).
    /// </summary>
    public static EpochSeries PerEpoch(IReadOnlyList<EpochResult> epochs, string perEpochMetric, string runningMetric)
    {
        var direct = EpochSeries.Of(epochs, perEpochMetric);
        if (!direct.IsEmpty) return direct;
        var points = new List<(int, double)>();
        double? previous = null;
        foreach (var e in epochs)
        {
            var v = e.Get(runningMetric);
            if (!double.IsFinite(v)) continue;
            points.Add((e.Epoch, previous is { } p && v >= p ? v - p : v));
            previous = v;
        }
        return new EpochSeries(points);
    }
}
