using Sweeper.Core.Model;
using Sweeper.Quantization.Training;

namespace Sweeper.Training.Quantized;

/// <summary>
/// The per-epoch quantizer metrics of <see cref="Trainables.TorchTrainable"/> (names and meanings:
/// <see cref="MetricNames.Quant"/> and <see cref="MetricNames.QuantLayer"/>), computed from each quantized layer's
/// diagnostics with the weights and quantizer state the evaluation used (one eval-mode quantizer call per layer).
/// </summary>
public static class QuantizerEpochMetrics
{
    private static string Name(string layer, string suffix) => MetricNames.QuantLayer.Name(layer, suffix);

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
            metrics[Name(name, MetricNames.QuantLayer.ExponentMean)] = d.Exponents.Length > 0 ? d.Exponents.Average() : d.Scales.Average(s => Math.Log2(s));
            metrics[Name(name, MetricNames.QuantLayer.Msqe)] = d.TotalMsqe;
            metrics[Name(name, MetricNames.QuantLayer.ClippedFraction)] = d.ClippedFraction;
            metrics[Name(name, MetricNames.QuantLayer.OutlierFraction)] = d.OutlierFraction;
            metrics[Name(name, MetricNames.QuantLayer.Flips)] = d.TotalFlips;
            metrics[Name(name, MetricNames.QuantLayer.ZeroFraction)] = d.ZeroFraction;
            metrics[Name(name, MetricNames.QuantLayer.InlierMsqe)] = d.InlierMsqe;
            if (double.IsFinite(d.SecondMomentSpread))
            {
                metrics[Name(name, MetricNames.QuantLayer.SecondMomentSpread)] = d.SecondMomentSpread;
                spreadSum += d.SecondMomentSpread;
                spreads++;
            }
            if (double.IsFinite(d.Log2ScaleMean))
            {
                metrics[Name(name, MetricNames.QuantLayer.Log2ScaleMean)] = d.Log2ScaleMean;
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
        metrics[MetricNames.Quant.FlipsTotal] = total;
        metrics[MetricNames.Quant.FlipsEpoch] = total - flipsAtEpochStart;
        if (weights > 0)
        {
            metrics[MetricNames.Quant.ClippedFraction] = clipped / weights;
            metrics[MetricNames.Quant.ZeroFraction] = zeros / weights;
        }
        if (msqe > 0) metrics[MetricNames.Quant.OutlierMsqeShare] = Math.Clamp(1 - inliers / msqe, 0, 1);
        if (spreads > 0) metrics[MetricNames.Quant.SecondMomentSpread] = spreadSum / spreads;
        if (log2s > 0) metrics[MetricNames.Quant.Log2ScaleMean] = log2Sum / log2s;
    }
}
