using Sweeper.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Sweeper.Training.Quantized;

/// <summary>The activation after a <see cref="ConvBn"/>.</summary>
public enum Activation
{
    None,
    ReLU,
    ReLU6,
}

/// <summary>
/// A 2-D convolution without bias, BatchNorm and an activation, whose weight may be fake-quantized.
/// <para>
/// Without folding the forward is <c>act(BN(conv(x, Q(W))))</c>. With <see cref="FoldsBatchNorm"/> the quantizer sees the
/// weight an accelerator runs after folding BN into the convolution, <c>W_f = W·s</c> with
/// <c>s = γ/√(running σ² + ε)</c> per output channel, and the forward is
/// <c>act(BN(conv(x, Q(W_f)) / s))</c> (the recipe of PyTorch's QAT <c>ConvBn2d</c>, Krishnamoorthi 2018 §3.2):
/// </para>
/// <list type="bullet">
/// <item>the fold uses the <b>running</b> statistics (before this step's update), so the quantized tensor is exactly the
/// folded weight that <see cref="QuantizedExport"/> exports and an accelerator runs, at every step, and one convolution
/// per step suffices (folding with batch statistics, as in Jacob et al. 2018, needs a second convolution to get them);</item>
/// <item>dividing the output by <c>s</c> undoes the scaling, so BN then normalizes with the batch statistics in training
/// (and updates its running statistics) and with the running ones in eval; in eval this is exactly
/// <c>conv(x, Q(W_f)) + β − μ·s</c>, the folded layer;</item>
/// <item>with no quantizer the forward equals <c>act(BN(conv(x, W)))</c> up to float rounding (conv is linear per output
/// channel). A γ of exactly 0 would divide by zero; BN's γ starts at 1 and is not expected to reach 0.</item>
/// </list>
/// </summary>
public sealed class ConvBn : Module<Tensor, Tensor>, IQuantizableLayer
{
    private readonly Parameter weight;
    private readonly BatchNorm2d bn;
    private readonly WeightQuantizer? quantizer;
    private readonly long[] stride;
    private readonly long[] padding;
    private readonly long groups;
    private readonly Activation activation;
    private readonly long[] weightShape;
    private readonly long[] channelShape;
    private Tensor? cachedWeight;

    /// <param name="inputChannels">Input channels.</param>
    /// <param name="outputChannels">Output channels.</param>
    /// <param name="kernelSize">Square kernel side.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="groups">Groups (input channels for a depthwise convolution).</param>
    /// <param name="activation">Activation after BN.</param>
    /// <param name="role">Stem or body.</param>
    /// <param name="plan">Which quantizer, and whether to fold (null: float, no folding).</param>
    public ConvBn(int inputChannels, int outputChannels, int kernelSize, int stride = 1, int groups = 1,
        Activation activation = Activation.ReLU, LayerRole role = LayerRole.Body, QuantizationPlan? plan = null)
        : base(nameof(ConvBn))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        if (groups < 1 || inputChannels % groups != 0 || outputChannels % groups != 0)
            throw new ArgumentException($"groups ({groups}) must divide the input ({inputChannels}) and output ({outputChannels}) channels.", nameof(groups));
        plan ??= QuantizationPlan.Float;
        weightShape = [outputChannels, inputChannels / groups, kernelSize, kernelSize];
        channelShape = [outputChannels, 1, 1, 1];
        this.weight = (Parameter)new Parameter(torch.empty(weightShape)).DetachFromDisposeScope();
        bn = BatchNorm2d(outputChannels);
        quantizer = plan.CreateQuantizer(weightShape, role);
        this.stride = [stride, stride];
        padding = [kernelSize / 2, kernelSize / 2];
        this.groups = groups;
        this.activation = activation;
        Role = role;
        FoldsBatchNorm = plan.FoldsBatchNorm(role);
        RegisterComponents();
    }

    public string LayerName { get; internal set; } = "";
    public LayerRole Role { get; }
    public WeightQuantizer? Quantizer => quantizer;
    public bool FoldsBatchNorm { get; }
    public long[] WeightShape => (long[])weightShape.Clone();

    /// <summary>The float convolution weight W.</summary>
    public Parameter Weight => weight;

    /// <summary>The BatchNorm after the convolution.</summary>
    public BatchNorm2d BatchNorm => bn;

    /// <summary>Stride (both axes).</summary>
    public long Stride => stride[0];

    /// <summary>Zero padding (both axes): kernel / 2.</summary>
    public long Padding => padding[0];

    /// <summary>Groups.</summary>
    public long Groups => groups;

    public Activation Activation => activation;

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        Tensor y;
        if (FoldsBatchNorm)
        {
            var s = FoldScale();
            var w = !training && cachedWeight is not null ? cachedWeight : Quantize(weight * s.reshape(channelShape));
            y = functional.conv2d(input, w, null, stride, padding, null, groups) / s.reshape(1, -1, 1, 1);
        }
        else
        {
            var w = !training && cachedWeight is not null ? cachedWeight : Quantize(weight);
            y = functional.conv2d(input, w, null, stride, padding, null, groups);
        }

        y = bn.forward(y);
        y = activation switch
        {
            Activation.ReLU => functional.relu(y, inplace: true),
            Activation.ReLU6 => functional.relu6(y, inplace: true),
            _ => y,
        };
        return y.MoveToOuterDisposeScope();
    }

    public Tensor EffectiveWeight()
    {
        using var noGrad = torch.no_grad();
        if (!FoldsBatchNorm) return weight.detach().clone();
        using var scope = torch.NewDisposeScope();
        return (weight * FoldScale().reshape(channelShape)).MoveToOuterDisposeScope();
    }

    public Tensor EvalWeight() => QuantizableLayers.EvalWeight(this, quantizer);

    /// <summary>s = γ / √(running σ² + ε) per output channel (differentiable in γ).</summary>
    internal Tensor FoldScale() => bn.weight / (bn.running_var! + bn.eps).sqrt();

    /// <summary>The bias of the folded layer, β − running μ · s (float32 [C]); meaningful when folding.</summary>
    internal Tensor FoldedBias()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        return (bn.bias! - bn.running_mean! * FoldScale()).MoveToOuterDisposeScope();
    }

    /// <summary>Eval mode: compute with this weight instead of quantizing again (null clears). Not owned.</summary>
    internal void UseCachedWeight(Tensor? w) => cachedWeight = w;

    private Tensor Quantize(Tensor w) => quantizer is null ? w : quantizer.forward(w);
}
