using static TorchSharp.torch;

namespace Sweeper.Quantization.Po2;

/// <summary>Options of <see cref="Po2Quantizers.LegacyAutoPo2"/> (golden README section 2).</summary>
public sealed class LegacyAutoPo2Options
{
    /// <summary>Number of least-squares refits; the last one wins (no keep-best). 5 in the original.</summary>
    public int Iterations { get; init; } = 5;
}

/// <summary>Options of <see cref="Po2Quantizers.MsqePo2"/> (golden README section 3).</summary>
public sealed class MsqePo2Options
{
    /// <summary>Start exponent, one per channel or one for all ([C] or [1], integer-valued); null = data-driven start.</summary>
    public Tensor? InitExponent { get; init; }

    /// <summary>Number of weighted least-squares refits (keep-best, strictly lower only).</summary>
    public int LlsIters { get; init; } = 3;

    /// <summary>Run the line search over neighbouring exponents.</summary>
    public bool LineSearch { get; init; } = true;

    /// <summary>Offsets tried: -(r/2) … +(r/2) without 0.</summary>
    public int LineSearchRange { get; init; } = 6;

    /// <summary>Outlier mask |x| ≤ sigma · std (population std, inclusive); null = no mask.</summary>
    public double? OutlierSigma { get; init; } = 2.0;

    /// <summary>Per-element MSQE weights, same shape as the input; null = ones.</summary>
    public Tensor? Weights { get; init; }
}

/// <summary>How <see cref="Po2Quantizers.LearnablePo2"/> turns the continuous log2 scale into an exponent.</summary>
public enum Po2ExponentMode
{
    /// <summary>e = ceil(l).</summary>
    Ceil,

    /// <summary>e = R(l), ties to even.</summary>
    Rint,

    /// <summary>"Round to lower MSQE": floor(l) if its weighted MSQE is strictly lower, else ceil(l).</summary>
    MsqeRound,
}

/// <summary>Options of <see cref="Po2Quantizers.LearnablePo2"/> (golden README section 4).</summary>
public sealed class LearnablePo2Options
{
    /// <summary>Exponent rule; the original's default is <see cref="Po2ExponentMode.MsqeRound"/>.</summary>
    public Po2ExponentMode Mode { get; init; } = Po2ExponentMode.MsqeRound;

    /// <summary>The continuous log2 scale l ([C] or [1]); null = data-driven start log2(max(3·std/qp, MinInitScale)).</summary>
    public Tensor? Log2Scale { get; init; }

    /// <summary>Lower clamp of the data-driven start scale.</summary>
    public double MinInitScale { get; init; } = 1e-5;

    /// <summary>Mask |x| ≤ 2^l · (qp + 0.5) out of the MSQE (msqe_round only).</summary>
    public bool OutlierMask { get; init; } = true;

    /// <summary>Per-element MSQE weights for msqe_round, same shape as the input; null = ones.</summary>
    public Tensor? Weights { get; init; }
}

/// <summary>Options of <see cref="Po2Quantizers.Lsq"/> (learned step size, Esser et al. 2020).</summary>
public sealed class LsqOptions
{
    /// <summary>Step size s ([C] or [1], positive); null = data-driven start 2·mean|x| / sqrt(qp).</summary>
    public Tensor? Step { get; init; }

    /// <summary>Steps are clamped to at least this value (an all-zero channel would otherwise get s = 0).</summary>
    public double MinStep { get; init; } = 1e-8;
}
