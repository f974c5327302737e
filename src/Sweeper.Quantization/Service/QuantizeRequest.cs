using Sweeper.Quantization.Po2;

namespace Sweeper.Quantization.Service;

/// <summary>
/// One validated request of <see cref="QuantizeService"/>: the fields of a golden case (method, bits,
/// channel_axis, shape, input, options). <see cref="Input"/> is row-major over <see cref="Shape"/>. <see cref="Upstream"/>
/// (optional, same layout as <see cref="Input"/>) is the gradient arriving at the quantizer's output: when given, the
/// response also holds the gradients of the training-time quantizer's backward pass.
/// </summary>
public sealed record QuantizeRequest(
    int Index,
    string? Name,
    string Method,
    int Bits,
    int? ChannelAxis,
    long[] Shape,
    float[] Input,
    QuantizeRequestOptions Options,
    float[]? Upstream = null)
{
    /// <summary>Number of channels (1 for per-tensor).</summary>
    public long Channels => ChannelAxis is int a ? Shape[a] : 1;
}

/// <summary>Method-specific options of a <see cref="QuantizeRequest"/>; unspecified options have the original's defaults.</summary>
public abstract record QuantizeRequestOptions;

/// <summary>Options of <c>legacy_auto_po2</c>: <c>iterations</c> (5).</summary>
public sealed record LegacyAutoPo2RequestOptions(int Iterations = 5) : QuantizeRequestOptions;

/// <summary>
/// Options of <c>msqe_po2</c>: <c>init_exponent</c> (null), <c>lls_iters</c> (3), <c>line_search</c> (true),
/// <c>line_search_range</c> (6), <c>outlier_sigma</c> (2.0), <c>weights</c> (null).
/// </summary>
public sealed record MsqePo2RequestOptions(
    long[]? InitExponent = null,
    int LlsIters = 3,
    bool LineSearch = true,
    int LineSearchRange = 6,
    double? OutlierSigma = 2.0,
    float[]? Weights = null) : QuantizeRequestOptions;

/// <summary>
/// Options of <c>learnable_po2</c>: <c>mode</c> (msqe_round), <c>log2_scale</c> (null), <c>min_init_scale</c> (1e-5),
/// <c>outlier_mask</c> (true), <c>weights</c> (null).
/// </summary>
public sealed record LearnablePo2RequestOptions(
    Po2ExponentMode Mode = Po2ExponentMode.MsqeRound,
    float[]? Log2Scale = null,
    double MinInitScale = 1e-5,
    bool OutlierMask = true,
    float[]? Weights = null) : QuantizeRequestOptions;

/// <summary>Options of <c>lsq</c>: <c>step</c> (null = 2·mean|x|/sqrt(qp)). The bit width is the request's <c>bits</c>.</summary>
public sealed record LsqRequestOptions(float[]? Step = null) : QuantizeRequestOptions;
