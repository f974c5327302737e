namespace Sweeper.Quantization.Training;

/// <summary>
/// Cheap per-step numbers of a training-time weight quantizer, for the stability monitor and telemetry.
/// </summary>
/// <param name="Step">Index of the training step these numbers belong to (0-based; eval calls report the next step's index).</param>
/// <param name="Training">Whether the call was a training call (state updated) or an eval call.</param>
/// <param name="Exponents">Exponent per channel (power-of-two quantizers; empty for LSQ).</param>
/// <param name="Scales">Step size per channel (2^exponent for power-of-two quantizers).</param>
/// <param name="Msqe">Σ over each channel of (w − quantized w)².</param>
/// <param name="ClippedFraction">Fraction of weights whose code was clipped to ±qp.</param>
/// <param name="OutlierFraction">Fraction of weights beyond the quantizer's outlier threshold (see each quantizer).</param>
/// <param name="Flips">Channels whose exponent differs from the previous training step's (0 for eval calls and LSQ).</param>
/// <param name="TotalFlips">Running count of exponent changes over all training steps.</param>
/// <param name="Frozen">Whether a frozen (stable) exponent was used.</param>
/// <param name="ZeroFraction">Fraction of weights whose code is 0.</param>
/// <param name="InlierMsqe">Σ of (w − quantized w)² over the weights that are not outliers (see <paramref name="OutlierFraction"/>):
/// with <see cref="TotalMsqe"/>, how much of the error the outliers cause (the paper's outlier sensitivity).</param>
/// <param name="SecondMomentSpread">Coefficient of variation (population std / mean) of the MSQE weights √v of the
/// second-moment EMA v; NaN for a quantizer without second moments. 0 while the weights are still uniform.</param>
/// <param name="Log2ScaleMean">Mean over channels of a learned log2 scale (learnable_po2's l, LSQ's log2 of its step);
/// NaN for quantizers that learn none.</param>
public sealed record QuantizerDiagnostics(
    long Step,
    bool Training,
    long[] Exponents,
    double[] Scales,
    double[] Msqe,
    double ClippedFraction,
    double OutlierFraction,
    long Flips,
    long TotalFlips,
    bool Frozen,
    double ZeroFraction = double.NaN,
    double InlierMsqe = double.NaN,
    double SecondMomentSpread = double.NaN,
    double Log2ScaleMean = double.NaN)
{
    /// <summary>Σ of <see cref="Msqe"/> over channels.</summary>
    public double TotalMsqe => Msqe.Sum();
}
