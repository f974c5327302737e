using Sweeper.Quantization;
using Sweeper.Quantization.Training;
using Sweeper.Training.Torch;
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
/// Without folding (<see cref="BatchNormFolding.None"/>) the forward is <c>act(BN(conv(x, Q(W))))</c>. With folding
/// the quantizer sees the weight an accelerator runs after folding BN into the convolution, <c>W_f = W·s</c> with
/// <c>s = γ/√(running σ² + ε)</c> per output channel, and in eval the layer is exactly the folded one,
/// <c>act(conv(x, Q(W_f)) + β − running μ·s)</c> (what <see cref="QuantizedExport"/> exports). The two recipes differ
/// in training:
/// </para>
/// <list type="bullet">
/// <item><see cref="BatchNormFolding.PyTorch"/> (PyTorch's QAT <c>ConvBn2d</c>, Krishnamoorthi 2018 §3.2; BN momentum
/// 0.1, ε 1e-5): the forward is <c>act(BN(conv(x, Q(W_f)) / s))</c> with the <b>running</b> statistics before this
/// step's update in <c>s</c>; dividing by <c>s</c> undoes the scaling so BN normalizes with the batch statistics (and
/// updates its running statistics). One convolution per step.</item>
/// <item><see cref="BatchNormFolding.QKeras"/> (QKeras <c>QConv2DBatchnorm</c>, folding_mode ema_stats_folding,
/// Keras momentum 0.99, ε 1e-3): a float convolution <c>y0 = conv(x, W)</c> gives the batch mean μ_b and biased
/// variance σ²_b (differentiable); the running statistics are updated from them first (the running variance from the
/// <b>unbiased</b> batch variance, as PyTorch and TF's fused BN do), then <c>W_f</c> is formed with the updated running
/// variance and the output is <c>conv(x, Q(W_f))·√(running σ² + ε)/√(σ²_b + ε) + β − γ·μ_b/√(σ²_b + ε)</c>. Two
/// convolutions per step. The BatchNorm module only stores γ, β and the running statistics (its forward is not used;
/// <c>num_batches_tracked</c> is counted).</item>
/// </list>
/// <para>
/// With no quantizer both equal <c>act(BN(conv(x, W)))</c> with batch statistics in training, up to float rounding
/// (conv is linear per output channel). A γ of exactly 0 would divide by zero in the PyTorch recipe; BN's γ starts at
/// 1 and is not expected to reach 0.
/// </para>
/// </summary>
public sealed class ConvBn : Module<Tensor, Tensor>, IQuantizableLayer
{
    private readonly Parameter weight;
    private readonly TorchSharp.Modules.BatchNorm bn;
    private readonly WeightQuantizer? quantizer;
    private readonly long[] stride;
    private readonly long[] padding;
    private readonly long groups;
    private readonly Activation activation;
    private readonly long[] weightShape;
    private readonly long[] channelShape;
    private Tensor? cachedWeight;
    private Tensor? preparedWeight;

    /// <summary>The QKeras recipe's BatchNorm ε (Keras's default).</summary>
    public const double QKerasEps = 1e-3;

    /// <summary>The QKeras recipe's running-statistics momentum in PyTorch's convention (1 − Keras's 0.99).</summary>
    public const double QKerasMomentum = 0.01;

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
        Folding = plan.Folding(role);
        bn = Folding == BatchNormFolding.QKeras
            ? new Torch.HeldScalarBatchNorm2d(outputChannels, eps: QKerasEps, momentum: QKerasMomentum)
            : new Torch.HeldScalarBatchNorm2d(outputChannels);
        IsDepthwise = groups > 1 && groups == inputChannels && groups == outputChannels;
        quantizer = plan.CreateQuantizer(weightShape, role, IsDepthwise);
        this.stride = [stride, stride];
        padding = [kernelSize / 2, kernelSize / 2];
        this.groups = groups;
        this.activation = activation;
        Role = role;
        RegisterComponents();
    }

    public string LayerName { get; internal set; } = "";
    public LayerRole Role { get; }
    public WeightQuantizer? Quantizer => quantizer;
    public bool FoldsBatchNorm => Folding != BatchNormFolding.None;

    /// <summary>How BN is folded into the quantized weight (none for layers the plan leaves in float).</summary>
    public BatchNormFolding Folding { get; }

    /// <summary>A depthwise convolution: groups = input channels = output channels (&gt; 1).</summary>
    public bool IsDepthwise { get; }
    public long[] WeightShape => (long[])weightShape.Clone();

    /// <summary>The float convolution weight W.</summary>
    public Parameter Weight => weight;

    /// <summary>The BatchNorm after the convolution.</summary>
    public TorchSharp.Modules.BatchNorm BatchNorm => bn;

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
        switch (Folding)
        {
            case BatchNormFolding.QKeras:
                y = training ? QKerasTrainingForward(input) : FoldedEvalForward(input);
                break;
            case BatchNormFolding.PyTorch:
            {
                var s = FoldScale();
                var w = !training && cachedWeight is not null ? cachedWeight : Quantize(weight * s.reshape(channelShape));
                y = SafeConvolution.Conv2d(input, w, null, stride, padding, groups) / s.reshape(1, -1, 1, 1);
                y = bn.forward(y);
                break;
            }
            default:
            {
                var w = !training && cachedWeight is not null ? cachedWeight : TakePrepared() ?? Quantize(weight);
                y = SafeConvolution.Conv2d(input, w, null, stride, padding, groups);
                y = bn.forward(y);
                break;
            }
        }

        y = activation switch
        {
            Activation.ReLU => functional.relu(y, inplace: true),
            Activation.ReLU6 => functional.relu6(y, inplace: true),
            _ => y,
        };
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The QKeras recipe in training (see the class summary). Call inside a dispose scope.</summary>
    private Tensor QKerasTrainingForward(Tensor input)
    {
        var y0 = SafeConvolution.Conv2d(input, weight, null, stride, padding, groups);
        long n = y0.size(0) * y0.size(2) * y0.size(3);
        if (n < 2)
            throw new ArgumentException($"Expected more than 1 value per channel when training, got input of shape [{string.Join(", ", input.shape)}].", nameof(input));
        var batchMean = y0.mean([0, 2, 3]);
        var batchVar = (y0 - batchMean.reshape(1, -1, 1, 1)).Squared().mean([0, 2, 3]); // biased, as tf.nn.moments
        using (torch.no_grad())
        {
            // Every scalar held (HeldScalars): the same operations as mul_(1 − m), add_(…, alpha: m), add_(1).
            using var momentum = QKerasMomentum.ToScalar();
            bn.running_mean!.TimesInPlace(1 - QKerasMomentum).add_(batchMean.detach(), momentum);
            bn.running_var!.TimesInPlace(1 - QKerasMomentum).add_(batchVar.detach().Times(n / (n - 1.0)), momentum);
            bn.num_batches_tracked?.PlusInPlace(1);
        }

        var runningStd = bn.running_var!.Plus(bn.eps).sqrt(); // after this step's update
        var w = Quantize(weight * (bn.weight / runningStd).reshape(channelShape));
        var batchStd = batchVar.Plus(bn.eps).sqrt();
        var y = SafeConvolution.Conv2d(input, w, null, stride, padding, groups);
        return (y * (runningStd / batchStd).reshape(1, -1, 1, 1)).Plus((bn.bias! - bn.weight * batchMean / batchStd).reshape(1, -1, 1, 1));
    }

    /// <summary>The folded layer with the running statistics: conv(x, Q(W·s)) + β − running μ·s. Call inside a dispose scope.</summary>
    private Tensor FoldedEvalForward(Tensor input)
    {
        var s = FoldScale();
        var w = cachedWeight ?? Quantize(weight * s.reshape(channelShape));
        return SafeConvolution.Conv2d(input, w, bn.bias! - bn.running_mean! * s, stride, padding, groups);
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
    internal Tensor FoldScale() => bn.weight / bn.running_var!.Plus(bn.eps).sqrt();

    /// <summary>The bias of the folded layer, β − running μ · s (float32 [C]); meaningful when folding.</summary>
    internal Tensor FoldedBias()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        return (bn.bias! - bn.running_mean! * FoldScale()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Training without BN folding: whether <see cref="QuantizableLayers.QuantizeAhead"/> runs this layer's quantizer before
    /// the forward pass (the same call on the same weight as the forward pass makes, earlier).
    /// </summary>
    internal bool QuantizesAhead => training && quantizer is not null && Folding == BatchNormFolding.None;

    /// <summary>The weight the quantizer produced ahead of this layer's next forward pass.</summary>
    internal void SetPreparedWeight(Tensor w) => preparedWeight = w;

    /// <summary>Drops a prepared weight the forward pass did not take (a forward pass that failed on the way).</summary>
    internal void ClearPreparedWeight() => preparedWeight = null;

    private Tensor? TakePrepared()
    {
        var w = preparedWeight;
        preparedWeight = null;
        return w;
    }

    /// <summary>Eval mode: compute with this weight instead of quantizing again (null clears). Not owned.</summary>
    internal void UseCachedWeight(Tensor? w) => cachedWeight = w;

    private Tensor Quantize(Tensor w) => quantizer is null ? w : quantizer.forward(w);
}
