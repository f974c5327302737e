using Sweeper.Quantization.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Sweeper.Training.Quantized;

/// <summary>A linear layer <c>x·Q(W)ᵀ + b</c> whose weight may be fake-quantized (the bias stays in float).</summary>
public sealed class QuantLinear : Module<Tensor, Tensor>, IQuantizableLayer
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly WeightQuantizer? quantizer;
    private readonly long[] weightShape;
    private Tensor? cachedWeight;

    /// <param name="inputFeatures">Input features.</param>
    /// <param name="outputFeatures">Output features.</param>
    /// <param name="role">Usually the classifier (<see cref="LayerRole.Last"/>).</param>
    /// <param name="plan">Which quantizer (null: float).</param>
    public QuantLinear(int inputFeatures, int outputFeatures, LayerRole role = LayerRole.Last, QuantizationPlan? plan = null)
        : base(nameof(QuantLinear))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputFeatures, 1);
        plan ??= QuantizationPlan.Float;
        weightShape = [outputFeatures, inputFeatures];
        weight = (Parameter)new Parameter(torch.empty(weightShape)).DetachFromDisposeScope();
        bias = (Parameter)new Parameter(torch.zeros(outputFeatures)).DetachFromDisposeScope();
        quantizer = plan.CreateQuantizer(weightShape, role);
        Role = role;
        RegisterComponents();
    }

    public string LayerName { get; internal set; } = "";
    public LayerRole Role { get; }
    public WeightQuantizer? Quantizer => quantizer;
    public bool FoldsBatchNorm => false;
    public long[] WeightShape => (long[])weightShape.Clone();

    /// <summary>The float weight W [out, in].</summary>
    public Parameter Weight => weight;

    /// <summary>The float bias [out].</summary>
    public Parameter Bias => bias;

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var w = !training && cachedWeight is not null ? cachedWeight : quantizer is null ? weight : quantizer.forward(weight);
        return functional.linear(input, w, bias).MoveToOuterDisposeScope();
    }

    public Tensor EffectiveWeight()
    {
        using var noGrad = torch.no_grad();
        return weight.detach().clone();
    }

    public Tensor EvalWeight() => QuantizableLayers.EvalWeight(this, quantizer);

    /// <summary>Eval mode: compute with this weight instead of quantizing again (null clears). Not owned.</summary>
    internal void UseCachedWeight(Tensor? w) => cachedWeight = w;
}
