using static TorchSharp.torch;

namespace Sweeper.Quantization.Po2;

/// <summary>
/// What a quantizer returns. Per-channel tensors have shape [C] (C = 1 for per-tensor); element tensors
/// have the input's shape. Disposing the result disposes every tensor in it.
/// </summary>
public abstract class QuantizationResult : IDisposable
{
    /// <summary>Integer codes in [-qp, qp], as floating-point values of the input's dtype, input's shape.</summary>
    public required Tensor Codes { get; init; }

    /// <summary>codes · step, input's dtype and shape.</summary>
    public required Tensor Dequantized { get; init; }

    /// <summary>Σ over the channel of (x - dequantized)², unweighted, float64 [C].</summary>
    public required Tensor Msqe { get; init; }

    /// <summary>The same sum with the method's effective weights (weights × outlier mask), float64 [C]; null if the method has none.</summary>
    public Tensor? WeightedMsqe { get; init; }

    /// <summary>Disposes every tensor of the result.</summary>
    public void Dispose()
    {
        foreach (var t in AllTensors())
            t?.Dispose();

        GC.SuppressFinalize(this);
    }

    /// <summary>Every tensor the result owns (null entries are skipped).</summary>
    protected virtual IEnumerable<Tensor?> AllTensors() => [Codes, Dequantized, Msqe, WeightedMsqe];

    internal void MoveToOuterDisposeScope()
    {
        foreach (var t in AllTensors())
            t?.MoveToOuterDisposeScope();
    }
}

/// <summary>Result of a power-of-two quantizer: dequantized = codes · 2^exponent.</summary>
public abstract class Po2QuantizationResult : QuantizationResult
{
    /// <summary>Integer exponent per channel, int64 [C].</summary>
    public required Tensor Exponents { get; init; }

    /// <inheritdoc/>
    protected override IEnumerable<Tensor?> AllTensors() => base.AllTensors().Append(Exponents);
}

/// <summary>Result of <see cref="Po2Quantizers.LegacyAutoPo2"/>.</summary>
public sealed class LegacyAutoPo2Result : Po2QuantizationResult
{
    /// <summary>Start exponents R(log2(max|x|/qp + EPS)), int64 [C].</summary>
    public required Tensor InitExponents { get; init; }

    /// <summary>Exponent after each refit, int64 [iterations, C].</summary>
    public required Tensor IterateExponents { get; init; }

    /// <summary>The original's quantizer.scale = 2^(e + bits - 1), float64 [C].</summary>
    public required Tensor QkerasScaleAttribute { get; init; }

    /// <inheritdoc/>
    protected override IEnumerable<Tensor?> AllTensors() =>
        base.AllTensors().Concat([InitExponents, IterateExponents, QkerasScaleAttribute]);
}

/// <summary>Result of <see cref="Po2Quantizers.MsqePo2"/>.</summary>
public sealed class MsqePo2Result : Po2QuantizationResult
{
    /// <summary>Start exponents, int64 [C].</summary>
    public required Tensor InitExponents { get; init; }

    /// <summary>Best exponents after the least-squares refits, int64 [C].</summary>
    public required Tensor LlsExponents { get; init; }

    /// <summary>Best exponents after the line search, before the final snap, int64 [C].</summary>
    public required Tensor LineSearchExponents { get; init; }

    /// <summary>Outlier mask |x| ≤ sigma·std (bool, input's shape), or null without a mask.</summary>
    public Tensor? OutlierMask { get; init; }

    /// <inheritdoc/>
    protected override IEnumerable<Tensor?> AllTensors() =>
        base.AllTensors().Concat([InitExponents, LlsExponents, LineSearchExponents, OutlierMask]);
}

/// <summary>Result of <see cref="Po2Quantizers.LearnablePo2"/>.</summary>
public sealed class LearnablePo2Result : Po2QuantizationResult
{
    /// <summary>The continuous log2 scale l that was used, float64 [C].</summary>
    public required Tensor Log2Scale { get; init; }

    /// <summary>Weighted MSQE at floor(l), float64 [C] (msqe_round only).</summary>
    public Tensor? FloorMsqe { get; init; }

    /// <summary>Weighted MSQE at ceil(l), float64 [C] (msqe_round only).</summary>
    public Tensor? CeilMsqe { get; init; }

    /// <summary>Mask |x| ≤ 2^l · (qp + 0.5) (bool, input's shape); msqe_round with the mask only.</summary>
    public Tensor? OutlierMask { get; init; }

    /// <inheritdoc/>
    protected override IEnumerable<Tensor?> AllTensors() =>
        base.AllTensors().Concat([Log2Scale, FloorMsqe, CeilMsqe, OutlierMask]);
}

/// <summary>Result of <see cref="Po2Quantizers.Lsq"/>.</summary>
public sealed class LsqResult : QuantizationResult
{
    /// <summary>Step size per channel (after the MinStep clamp), input's dtype [C].</summary>
    public required Tensor Step { get; init; }

    /// <summary>LSQ gradient scale g = 1 / sqrt(numel per channel · qp).</summary>
    public required double GradientScale { get; init; }

    /// <inheritdoc/>
    protected override IEnumerable<Tensor?> AllTensors() => base.AllTensors().Append(Step);
}
