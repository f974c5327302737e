using Sweeper.Quantization;

namespace Sweeper.Training.Quantized;

/// <summary>
/// Names of the per-epoch quantizer metrics of <see cref="Trainables.TorchTrainable"/>. Per quantized layer (module path
/// <c>&lt;layer&gt;</c>, e.g. <c>features.3.pw</c>), measured at the end of the epoch with the weights and quantizer state
/// the test metrics were computed with (one eval-mode quantizer call per layer):
/// <list type="bullet">
/// <item><c>quant.&lt;layer&gt;.exponent_mean</c>: mean over channels of the PO2 exponent (LSQ: mean log2 of the step);</item>
/// <item><c>quant.&lt;layer&gt;.msqe</c>: Σ over the layer of (w − Q(w))² (the golden README's MSQE: a sum);</item>
/// <item><c>quant.&lt;layer&gt;.clipped_fraction</c>: fraction of weights whose code was clipped to ±qp;</item>
/// <item><c>quant.&lt;layer&gt;.outlier_fraction</c>: fraction beyond the quantizer's outlier threshold;</item>
/// <item><c>quant.&lt;layer&gt;.flips</c>: exponent changes of the layer's channels over all training steps so far;</item>
/// <item><c>quant.&lt;layer&gt;.zero_fraction</c>: fraction of weights whose code is 0;</item>
/// <item><c>quant.&lt;layer&gt;.msqe_inliers</c>: the MSQE sum over the weights that are not outliers (compare with <c>msqe</c>:
/// the paper's outlier sensitivity);</item>
/// <item><c>quant.&lt;layer&gt;.sm_weight_cv</c>: spread (std / mean) of the second-moment MSQE weights √v (quantizers with
/// second moments only);</item>
/// <item><c>quant.&lt;layer&gt;.log2_scale_mean</c>: mean of the learned log2 scale (learnable_po2's l, LSQ's log2 step).</item>
/// </list>
/// Over all layers: <c>quant.flips_total</c> (running count), <c>quant.flips_epoch</c> (during this epoch),
/// <c>quant.clipped_fraction</c> and <c>quant.zero_fraction</c> (over all quantized weights), <c>quant.outlier_msqe_share</c>
/// (1 − Σ msqe_inliers / Σ msqe: the share of the quantization error that the outliers cause) and
/// <c>quant.sm_weight_cv</c> and <c>quant.log2_scale_mean</c> (means over layers). The network's values are also attributes
/// of each epoch span (<c>sweeper.metric.quant.*</c>); the per-layer ones are in results.json.
/// </summary>
public static class QuantizerMetricNames
{
    public const string Prefix = "quant.";
    public const string FlipsTotal = "quant.flips_total";
    public const string FlipsEpoch = "quant.flips_epoch";
    public const string ClippedFractionAll = "quant.clipped_fraction";
    public const string ZeroFractionAll = "quant.zero_fraction";
    public const string OutlierMsqeShare = "quant.outlier_msqe_share";
    public const string SecondMomentSpreadAll = "quant.sm_weight_cv";
    public const string Log2ScaleMeanAll = "quant.log2_scale_mean";

    public static string ExponentMean(string layer) => $"{Prefix}{layer}.exponent_mean";
    public static string Msqe(string layer) => $"{Prefix}{layer}.msqe";
    public static string ClippedFraction(string layer) => $"{Prefix}{layer}.clipped_fraction";
    public static string OutlierFraction(string layer) => $"{Prefix}{layer}.outlier_fraction";
    public static string Flips(string layer) => $"{Prefix}{layer}.flips";
    public static string ZeroFraction(string layer) => $"{Prefix}{layer}.zero_fraction";
    public static string InlierMsqe(string layer) => $"{Prefix}{layer}.msqe_inliers";
    public static string SecondMomentSpread(string layer) => $"{Prefix}{layer}.sm_weight_cv";
    public static string Log2ScaleMean(string layer) => $"{Prefix}{layer}.log2_scale_mean";

    /// <summary>Adds the metrics of <paramref name="diagnostics"/> to <paramref name="metrics"/>; <paramref name="flipsAtEpochStart"/> is the total before the epoch.</summary>
    public static void AddEpochMetrics(
        IDictionary<string, double> metrics,
        IEnumerable<(IQuantizableLayer Layer, QuantizerDiagnostics Diagnostics)> diagnostics,
        long flipsAtEpochStart)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(diagnostics);
        long total = 0;
        double weights = 0, clipped = 0, zeros = 0, msqe = 0, inliers = 0, spreadSum = 0, log2Sum = 0;
        int spreads = 0, log2s = 0;
        foreach (var (layer, d) in diagnostics)
        {
            var name = layer.LayerName;
            double count = layer.WeightShape.Aggregate(1.0, (p, n) => p * n);
            metrics[ExponentMean(name)] = d.Exponents.Length > 0 ? d.Exponents.Average() : d.Scales.Average(s => Math.Log2(s));
            metrics[Msqe(name)] = d.TotalMsqe;
            metrics[ClippedFraction(name)] = d.ClippedFraction;
            metrics[OutlierFraction(name)] = d.OutlierFraction;
            metrics[Flips(name)] = d.TotalFlips;
            metrics[ZeroFraction(name)] = d.ZeroFraction;
            metrics[InlierMsqe(name)] = d.InlierMsqe;
            if (double.IsFinite(d.SecondMomentSpread))
            {
                metrics[SecondMomentSpread(name)] = d.SecondMomentSpread;
                spreadSum += d.SecondMomentSpread;
                spreads++;
            }
            if (double.IsFinite(d.Log2ScaleMean))
            {
                metrics[Log2ScaleMean(name)] = d.Log2ScaleMean;
                log2Sum += d.Log2ScaleMean;
                log2s++;
            }
            total += d.TotalFlips;
            weights += count;
            clipped += d.ClippedFraction * count;
            zeros += d.ZeroFraction * count;
            msqe += d.TotalMsqe;
            inliers += d.InlierMsqe;
        }
        metrics[FlipsTotal] = total;
        metrics[FlipsEpoch] = total - flipsAtEpochStart;
        if (weights > 0)
        {
            metrics[ClippedFractionAll] = clipped / weights;
            metrics[ZeroFractionAll] = zeros / weights;
        }
        if (msqe > 0) metrics[OutlierMsqeShare] = Math.Clamp(1 - inliers / msqe, 0, 1);
        if (spreads > 0) metrics[SecondMomentSpreadAll] = spreadSum / spreads;
        if (log2s > 0) metrics[Log2ScaleMeanAll] = log2Sum / log2s;
    }
}
