using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Quantization.Po2;
using Sweeper.Quantization.Training;

namespace Sweeper.Training.Quantized;

/// <summary>Where a layer sits in the network, for <see cref="QuantizerSpec.QuantizeFirstLast"/>.</summary>
public enum LayerRole
{
    /// <summary>The stem convolution (sees the raw input).</summary>
    First,

    /// <summary>Every other convolution.</summary>
    Body,

    /// <summary>The classifier.</summary>
    Last,
}

/// <summary>How a conv+BN layer folds its BatchNorm into the weight it quantizes (<see cref="QuantizerSpec.BnFold"/>).</summary>
public enum BatchNormFolding
{
    /// <summary>No folding: <c>act(BN(conv(x, Q(W))))</c>.</summary>
    None,

    /// <summary>QKeras <c>QConv2DBatchnorm</c> with its defaults (ema_stats_folding, momentum 0.99, ε 1e-3).</summary>
    QKeras,

    /// <summary>PyTorch's QAT <c>ConvBn2d</c> (momentum 0.1, ε 1e-5).</summary>
    PyTorch,
}

/// <summary>
/// Turns a <see cref="QuantizerSpec"/> into one <see cref="WeightQuantizer"/> per layer: per output channel
/// (channel axis 0 of the PyTorch layout <c>[out, in/groups, kh, kw]</c> / <c>[out, in]</c>) or per tensor.
/// A depthwise convolution gets one scale per channel only with <see cref="QuantizerSpec.DepthwisePerChannel"/>
/// (else one for the layer, as QKeras's default axis gives). <c>none</c> creates no quantizer;
/// <see cref="QuantizerSpec.QuantizeFirstLast"/> false leaves the stem and the classifier in float. Options that do
/// not belong to the method are ignored.
/// </summary>
public sealed class QuantizationPlan
{
    /// <summary>A plan that quantizes nothing and folds nothing.</summary>
    public static QuantizationPlan Float { get; } = new(new QuantizerSpec());

    /// <param name="spec">The spec's quantizer section. msqe_po2's stable exponent is frozen by the trainable at the end of
    /// an epoch (<see cref="StableFromEpoch"/>), not by the quantizer at a step.</param>
    /// <exception cref="ArgumentException">Unknown method, rounding or BN folding recipe, or bits outside 2..8.</exception>
    public QuantizationPlan(QuantizerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!QuantizerNames.TryParseMethod(spec.Method, out var method))
            throw new ArgumentException($"Unknown quantizer method '{spec.Method}'. Valid names: {string.Join(", ", QuantizerNames.Methods)}.", nameof(spec));
        if (method != QuantizerMethod.None && spec.Bits is < 2 or > 8)
            throw new ArgumentException($"trainable.quantizer.bits must be between 2 and 8 (got {spec.Bits}).", nameof(spec));
        var rounding = Rounding.MsqeRound;
        if (method == QuantizerMethod.LearnablePo2 && !QuantizerNames.TryParseRounding(spec.Rounding, out rounding))
            throw new ArgumentException($"Unknown rounding '{spec.Rounding}'. Valid names: {string.Join(", ", QuantizerNames.Roundings)}.", nameof(spec));
        if (!BnFoldRecipe.Recipes.Contains(spec.BnFold))
            throw new ArgumentException($"Unknown bn_fold recipe '{spec.BnFold}'. Valid names: {string.Join(", ", BnFoldRecipe.Recipes)}.", nameof(spec));
        Spec = spec;
        Method = method;
        Rounding = rounding;
    }

    public QuantizerSpec Spec { get; }

    /// <summary>The spec's <see cref="QuantizerSpec.Method"/>.</summary>
    public QuantizerMethod Method { get; }

    /// <summary>The spec's <see cref="QuantizerSpec.Rounding"/> for learnable_po2 (<see cref="Rounding.MsqeRound"/> for the other methods, which have none).</summary>
    public Rounding Rounding { get; }

    /// <summary>Whether any layer gets a quantizer.</summary>
    public bool Quantizes => Method != QuantizerMethod.None;

    /// <summary>
    /// Whether a layer of <paramref name="role"/> is meant to be quantized, whatever the method: body layers always,
    /// the stem and the classifier only with <see cref="QuantizerSpec.QuantizeFirstLast"/>.
    /// </summary>
    public bool Covers(LayerRole role) => role == LayerRole.Body || Spec.QuantizeFirstLast;

    /// <summary>
    /// Whether a conv+BN layer of <paramref name="role"/> quantizes its BN-folded weight. Also true with method
    /// <c>none</c> (the folded forward is then mathematically the plain conv+BN forward), false for layers left in float.
    /// </summary>
    public bool FoldsBatchNorm(LayerRole role) => Folding(role) != BatchNormFolding.None;

    /// <summary>The BN folding recipe of a conv+BN layer of <paramref name="role"/>: the spec's for the layers the plan covers, else none.</summary>
    public BatchNormFolding Folding(LayerRole role) => !Covers(role) ? BatchNormFolding.None : Spec.BnFold switch
    {
        BnFoldRecipe.QKeras => BatchNormFolding.QKeras,
        BnFoldRecipe.PyTorch => BatchNormFolding.PyTorch,
        _ => BatchNormFolding.None,
    };

    /// <summary>
    /// The quantizer of a layer of <paramref name="role"/> with weights of <paramref name="weightShape"/>, or null (float).
    /// Per channel, a <paramref name="depthwise"/> layer gets one scale per channel only with
    /// <see cref="QuantizerSpec.DepthwisePerChannel"/>, else one for the layer.
    /// </summary>
    public WeightQuantizer? CreateQuantizer(long[] weightShape, LayerRole role, bool depthwise = false)
    {
        ArgumentNullException.ThrowIfNull(weightShape);
        if (!Quantizes || !Covers(role)) return null;
        int? axis = Spec.PerChannel && (!depthwise || Spec.DepthwisePerChannel) ? 0 : null;
        WeightQuantizer quantizer = Method switch
        {
            QuantizerMethod.LegacyAutoPo2 => new LegacyAutoPo2Quantizer(weightShape, Spec.Bits, axis),
            QuantizerMethod.MsqePo2 => new MsqePo2Quantizer(weightShape, Spec.Bits, axis, new MsqePo2QuantizerOptions
            {
                LlsIters = Spec.LlsIters,
                LineSearch = Spec.LineSearch,
                LineSearchRange = Spec.LineSearchRange,
                OutlierSigma = Spec.OutlierMask ? Spec.OutlierSigma : null,
                SecondMoments = Spec.SecondMoments,
                StableScale = Spec.StableScale,
            }),
            QuantizerMethod.LearnablePo2 => new LearnablePo2Quantizer(weightShape, Spec.Bits, axis, new LearnablePo2QuantizerOptions
            {
                Mode = ExponentMode(Rounding),
                MinInitScale = Spec.MinInitScale,
                OutlierMask = Spec.OutlierMask,
                SecondMoments = Spec.SecondMoments,
            }),
            QuantizerMethod.Lsq => new LsqQuantizer(weightShape, Spec.Bits, axis),
            _ => throw new InvalidOperationException($"Unhandled method '{Spec.Method}'."),
        };
        // Per-step diagnostics cost a few reductions per layer; the trainable asks for them once per epoch instead.
        quantizer.CollectDiagnostics = false;
        return quantizer;
    }

    /// <summary>
    /// learnable_po2's exponent rule for a spec <paramref name="rounding"/>. With <see cref="CreateQuantizer"/>'s switch on
    /// <see cref="QuantizerMethod"/>, the one place where the spec's vocabulary (Sweeper.Core.Model) meets Sweeper.Quantization's.
    /// </summary>
    internal static Po2ExponentMode ExponentMode(Rounding rounding) => rounding switch
    {
        Rounding.Ceil => Po2ExponentMode.Ceil,
        Rounding.Rint => Po2ExponentMode.Rint,
        Rounding.MsqeRound => Po2ExponentMode.MsqeRound,
        _ => throw new ArgumentOutOfRangeException(nameof(rounding), rounding, null),
    };

    /// <summary>
    /// msqe_po2 with stable_scale: the epoch after whose training the stable exponent is frozen
    /// (<see cref="QuantizerSpec.StableFromEpoch"/>, default 1). The exponent's moving average runs from the first
    /// training step, so the frozen value is rint of the average over every step of epochs 1..N.
    /// </summary>
    public static int StableFromEpoch(QuantizerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.StableFromEpoch ?? 1;
    }
}
