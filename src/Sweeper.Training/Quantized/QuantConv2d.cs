using Sweeper.Quantization.Training;
using Sweeper.Training.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Sweeper.Training.Quantized;

/// <summary>
/// A 2-D convolution <c>conv(x, Q(W)) + b</c> without BatchNorm, whose weight may be fake-quantized (the bias, if any,
/// stays in float): what <see cref="ModuleSurgery"/> puts in place of a plug-in's <c>Conv2d</c> that is not directly
/// followed by a BatchNorm2d in a <c>Sequential</c> (those become a <see cref="ConvBn"/>). Square stride and zero
/// padding, no dilation (what <see cref="QuantizedExport"/> can describe); any kernel shape and groups.
/// </summary>
public sealed class QuantConv2d : Module<Tensor, Tensor>, IQuantizableLayer
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly WeightQuantizer? quantizer;
    private readonly long[] stride;
    private readonly long[] padding;
    private readonly long groups;
    private readonly long[] weightShape;
    private Tensor? cachedWeight;

    /// <param name="inputChannels">Input channels.</param>
    /// <param name="outputChannels">Output channels.</param>
    /// <param name="kernelHeight">Kernel height.</param>
    /// <param name="kernelWidth">Kernel width.</param>
    /// <param name="stride">Stride (both axes).</param>
    /// <param name="padding">Zero padding (both axes).</param>
    /// <param name="groups">Groups (input channels for a depthwise convolution).</param>
    /// <param name="bias">Whether the layer adds a (float) bias.</param>
    /// <param name="role">Stem or body (<see cref="LayerRole.Last"/> is treated as body would be: it decides coverage only).</param>
    /// <param name="plan">Which quantizer (null: float).</param>
    public QuantConv2d(int inputChannels, int outputChannels, int kernelHeight, int kernelWidth, int stride = 1, int padding = 0,
        int groups = 1, bool bias = false, LayerRole role = LayerRole.Body, QuantizationPlan? plan = null)
        : base(nameof(QuantConv2d))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        if (groups < 1 || inputChannels % groups != 0 || outputChannels % groups != 0)
            throw new ArgumentException($"groups ({groups}) must divide the input ({inputChannels}) and output ({outputChannels}) channels.", nameof(groups));
        plan ??= QuantizationPlan.Float;
        weightShape = [outputChannels, inputChannels / groups, kernelHeight, kernelWidth];
        weight = (Parameter)new Parameter(torch.empty(weightShape)).DetachFromDisposeScope();
        this.bias = bias ? (Parameter)new Parameter(torch.zeros(outputChannels)).DetachFromDisposeScope() : null;
        IsDepthwise = groups > 1 && groups == inputChannels && groups == outputChannels;
        quantizer = plan.CreateQuantizer(weightShape, role, IsDepthwise);
        this.stride = [stride, stride];
        this.padding = [padding, padding];
        this.groups = groups;
        Role = role;
        RegisterComponents();
    }

    public string LayerName { get; internal set; } = "";
    public LayerRole Role { get; }
    public WeightQuantizer? Quantizer => quantizer;
    public bool FoldsBatchNorm => false;
    public long[] WeightShape => (long[])weightShape.Clone();

    /// <summary>A depthwise convolution: groups = input channels = output channels (&gt; 1).</summary>
    public bool IsDepthwise { get; }

    /// <summary>The float weight W <c>[out, in/groups, kh, kw]</c>.</summary>
    public Parameter Weight => weight;

    /// <summary>The float bias [out], or null.</summary>
    public Parameter? Bias => bias;

    /// <summary>Stride (both axes).</summary>
    public long Stride => stride[0];

    /// <summary>Zero padding (both axes).</summary>
    public long Padding => padding[0];

    /// <summary>Groups.</summary>
    public long Groups => groups;

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var w = !training && cachedWeight is not null ? cachedWeight : quantizer is null ? weight : quantizer.forward(weight);
        return SafeConvolution.Conv2d(input, w, bias, stride, padding, groups).MoveToOuterDisposeScope();
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
