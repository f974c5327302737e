namespace Sweeper.Core.Model;

/// <summary>The names of the metrics trainables report and everything downstream (scheduler, reports, traces) reads.</summary>
public static class MetricNames
{
    public const string TrainLoss = "train_loss";
    public const string TrainAccuracy = "train_accuracy";
    public const string TestLoss = "test_loss";
    public const string TestAccuracy = "test_accuracy";
    /// <summary>Loss and accuracy on the validation images held out of the training set (<c>trainable.dataset.validation</c>).</summary>
    public const string ValLoss = "val_loss";
    public const string ValAccuracy = "val_accuracy";
    public const string LearningRate = "lr";
    public const string SamplesPerSecond = "samples_per_second";
    /// <summary>Seconds of the epoch spent training and evaluating (the <c>train</c> and <c>eval</c> spans).</summary>
    public const string TrainSeconds = "train_seconds";
    public const string EvalSeconds = "eval_seconds";

    /// <summary>
    /// The quantizer diagnostics a quantized trial reports each epoch, over the whole network. Per quantized layer
    /// (module path <c>&lt;layer&gt;</c>, which may hold dots: <c>features.3.pw</c>) see <see cref="QuantLayer"/>.
    /// <list type="bullet">
    /// <item><c>quant.flips_total</c>: exponent changes over all training steps so far (running count);</item>
    /// <item><c>quant.flips_epoch</c>: exponent changes during this epoch;</item>
    /// <item><c>quant.clipped_fraction</c>, <c>quant.zero_fraction</c>: fraction of all quantized weights whose code was clipped to ±qp, or is 0;</item>
    /// <item><c>quant.outlier_msqe_share</c>: 1 − Σ msqe_inliers / Σ msqe, the share of the quantization error the outliers cause;</item>
    /// <item><c>quant.sm_weight_cv</c>, <c>quant.log2_scale_mean</c>: means over layers of the per-layer values.</item>
    /// </list>
    /// The network's values are also attributes of each epoch span (<c>sweeper.metric.quant.*</c>); per-layer ones are in results.json.
    /// </summary>
    public static class Quant
    {
        public const string Prefix = "quant.";
        public const string FlipsTotal = "quant.flips_total";
        public const string FlipsEpoch = "quant.flips_epoch";
        public const string ClippedFraction = "quant.clipped_fraction";
        public const string ZeroFraction = "quant.zero_fraction";
        public const string OutlierMsqeShare = "quant.outlier_msqe_share";
        public const string SecondMomentSpread = "quant.sm_weight_cv";
        public const string Log2ScaleMean = "quant.log2_scale_mean";

        public static bool IsQuant(string metric) => metric.StartsWith(Prefix, StringComparison.Ordinal);
    }

    /// <summary>
    /// Per-layer quantizer metrics: <c>quant.&lt;layer&gt;&lt;suffix&gt;</c>, measured at the end of the epoch with the
    /// weights and quantizer state the evaluation used.
    /// <list type="bullet">
    /// <item><c>.exponent_mean</c>: mean over channels of the PO2 exponent (LSQ: mean log2 of the step);</item>
    /// <item><c>.msqe</c>: Σ over the layer of (w − Q(w))²; <c>.msqe_inliers</c>: the same over the weights that are not outliers;</item>
    /// <item><c>.clipped_fraction</c>, <c>.outlier_fraction</c>, <c>.zero_fraction</c>: fractions of the layer's weights;</item>
    /// <item><c>.flips</c>: exponent changes of the layer's channels so far (running); <c>.flips_epoch</c>: during the epoch;</item>
    /// <item><c>.sm_weight_cv</c>: spread (std / mean) of the second-moment MSQE weights √v; <c>.log2_scale_mean</c>: mean learned log2 scale.</item>
    /// </list>
    /// </summary>
    public static class QuantLayer
    {
        public const string ExponentMean = ".exponent_mean";
        public const string Msqe = ".msqe";
        public const string InlierMsqe = ".msqe_inliers";
        public const string ClippedFraction = ".clipped_fraction";
        public const string OutlierFraction = ".outlier_fraction";
        public const string ZeroFraction = ".zero_fraction";
        public const string Flips = ".flips";
        public const string FlipsEpoch = ".flips_epoch";
        public const string SecondMomentSpread = ".sm_weight_cv";
        public const string Log2ScaleMean = ".log2_scale_mean";

        /// <summary>The name of metric <paramref name="suffix"/> of <paramref name="layer"/>.</summary>
        public static string Name(string layer, string suffix) => Quant.Prefix + layer + suffix;

        /// <summary>The layer of a per-layer metric with <paramref name="suffix"/>, or null.</summary>
        public static string? LayerOf(string metric, string suffix) =>
            metric.Length > Quant.Prefix.Length + suffix.Length && metric.StartsWith(Quant.Prefix, StringComparison.Ordinal) && metric.EndsWith(suffix, StringComparison.Ordinal)
                ? metric[Quant.Prefix.Length..^suffix.Length]
                : null;
    }
}
