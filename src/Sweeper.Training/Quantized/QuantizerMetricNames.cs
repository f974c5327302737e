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
/// <item><c>quant.&lt;layer&gt;.flips</c>: exponent changes of the layer's channels over all training steps so far.</item>
/// </list>
/// Over all layers: <c>quant.flips_total</c> (running count) and <c>quant.flips_epoch</c> (during this epoch).
/// </summary>
public static class QuantizerMetricNames
{
    public const string Prefix = "quant.";
    public const string FlipsTotal = "quant.flips_total";
    public const string FlipsEpoch = "quant.flips_epoch";

    public static string ExponentMean(string layer) => $"{Prefix}{layer}.exponent_mean";
    public static string Msqe(string layer) => $"{Prefix}{layer}.msqe";
    public static string ClippedFraction(string layer) => $"{Prefix}{layer}.clipped_fraction";
    public static string OutlierFraction(string layer) => $"{Prefix}{layer}.outlier_fraction";
    public static string Flips(string layer) => $"{Prefix}{layer}.flips";

    /// <summary>Adds the metrics of <paramref name="diagnostics"/> to <paramref name="metrics"/>; <paramref name="flipsAtEpochStart"/> is the total before the epoch.</summary>
    public static void AddEpochMetrics(
        IDictionary<string, double> metrics,
        IEnumerable<(IQuantizableLayer Layer, QuantizerDiagnostics Diagnostics)> diagnostics,
        long flipsAtEpochStart)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(diagnostics);
        long total = 0;
        foreach (var (layer, d) in diagnostics)
        {
            var name = layer.LayerName;
            metrics[ExponentMean(name)] = d.Exponents.Length > 0 ? d.Exponents.Average() : d.Scales.Average(s => Math.Log2(s));
            metrics[Msqe(name)] = d.TotalMsqe;
            metrics[ClippedFraction(name)] = d.ClippedFraction;
            metrics[OutlierFraction(name)] = d.OutlierFraction;
            metrics[Flips(name)] = d.TotalFlips;
            total += d.TotalFlips;
        }
        metrics[FlipsTotal] = total;
        metrics[FlipsEpoch] = total - flipsAtEpochStart;
    }
}
