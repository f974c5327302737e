using Sweeper.Quantization.Training;
using static TorchSharp.torch;

namespace Sweeper.Training.Quantized;

/// <summary>
/// A layer whose weight may go through a <see cref="WeightQuantizer"/>: <see cref="ConvBn"/> (conv + BatchNorm, optionally
/// BN-folded) and <see cref="QuantLinear"/>. Models list theirs with <see cref="QuantizableLayers.Bind"/>, which also
/// names each one by its module path (<c>stem</c>, <c>features.3.pw</c>, <c>classifier</c>).
/// </summary>
public interface IQuantizableLayer
{
    /// <summary>The module path of the layer in its model (empty until the model binds it).</summary>
    string LayerName { get; }

    /// <summary>Stem, body or classifier.</summary>
    LayerRole Role { get; }

    /// <summary>The weight quantizer, or null when the layer stays in float.</summary>
    WeightQuantizer? Quantizer { get; }

    /// <summary>Whether the quantized weight is the BN-folded W·γ/√(σ²+ε) (running statistics).</summary>
    bool FoldsBatchNorm { get; }

    /// <summary>Shape of the weight (PyTorch layout: <c>[out, in/groups, kh, kw]</c> or <c>[out, in]</c>).</summary>
    long[] WeightShape { get; }

    /// <summary>
    /// The float weight the quantizer sees: W, or W·γ/√(running σ² + ε) when folding. A new tensor without gradient,
    /// in the caller's dispose scope.
    /// </summary>
    Tensor EffectiveWeight();

    /// <summary>
    /// The weight the layer computes with in eval mode: Q(<see cref="EffectiveWeight"/>) (the fake-quantized weight,
    /// as the quantizer's eval call gives it; no state changes), or the effective weight itself in float. A new tensor
    /// without gradient, in the caller's dispose scope.
    /// </summary>
    Tensor EvalWeight();
}
