using Sweeper.Quantization;
using Sweeper.Training.Quantized;
using Sweeper.Training.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Sweeper.Training.Models;

/// <summary>
/// MobileNetV2 (Sandler et al., 2018) for small images: a 3×3 stem convolution, seventeen inverted-residual blocks
/// (1×1 expansion by 6 → 3×3 depthwise → linear 1×1 projection, with a residual connection when the block keeps the
/// shape; ReLU6 after the expansion and the depthwise convolution), a 1×1 head convolution to 1280 channels, global
/// average pooling and a linear classifier.
/// <para>
/// Adaptation to 28×28 and 32×32 inputs: the stem has stride 1 instead of 2 (the only change), so the four stride-2
/// stages give feature maps 28 → 14 → 7 → 4 → 2 (32 → 16 → 8 → 4 → 2), the schedule of <see cref="MobileNetV1"/> here.
/// No dropout (it would draw from the global generator, which trials must not depend on).
/// </para>
/// <para>
/// Width multiplier as in the reference implementation: every channel count c becomes
/// <see cref="MakeDivisible"/>(c × width, 8); the head keeps 1280 channels for widths ≤ 1.
/// </para>
/// <para>
/// Layers (module paths): <c>stem</c>, <c>features.{i}.expand</c> (absent in block 0, whose expansion is 1),
/// <c>features.{i}.dw</c>, <c>features.{i}.project</c> (i = 0..16), <c>head</c>, <c>classifier</c>. The <c>dw</c>
/// layers are depthwise (<see cref="ConvBn.IsDepthwise"/>): per channel, they get one scale per channel or one per
/// layer as <c>depthwise_per_channel</c> says.
/// </para>
/// </summary>
public sealed class MobileNetV2 : Module<Tensor, Tensor>, IQuantizableModel
{
    /// <summary>The stem's output channels at width 1.</summary>
    public const int StemChannels = 32;

    /// <summary>The head's output channels at width ≤ 1.</summary>
    public const int HeadChannels = 1280;

    /// <summary>The stages at width 1: expansion t, output channels c, blocks n, stride s of the first block.</summary>
    public static IReadOnlyList<(int Expansion, int Channels, int Blocks, int Stride)> Stages { get; } =
    [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ];

    private readonly ConvBn stem;
    private readonly ModuleList<InvertedResidual> features;
    private readonly ConvBn head;
    private readonly AdaptiveAvgPool2d pool;
    private readonly QuantLinear classifier;

    /// <param name="width">Width multiplier (&gt; 0), e.g. 0.35, 0.5, 1.</param>
    /// <param name="inputChannels">1 (grey) or 3 (colour).</param>
    /// <param name="classes">Number of output logits.</param>
    /// <param name="stemStride">1 for 28×28–32×32 inputs, 2 for 224×224 (the original).</param>
    /// <param name="generator">Draws the initial weights (uniform ±1/√fan_in, as <see cref="MobileNetV1"/>); null uses the global generator.</param>
    /// <param name="plan">Weight quantization and BN folding (null: float).</param>
    public MobileNetV2(double width, int inputChannels = 1, int classes = 10, int stemStride = 1, Generator? generator = null, QuantizationPlan? plan = null)
        : base(nameof(MobileNetV2))
    {
        if (!(width > 0) || double.IsInfinity(width)) throw new ArgumentOutOfRangeException(nameof(width), width, "The width multiplier must be a positive number.");
        if (inputChannels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(inputChannels), inputChannels, "Input channels must be 1 or 3.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier needs at least 2 classes.");
        if (stemStride is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(stemStride), stemStride, "The stem stride must be 1 or 2.");

        Width = width;
        int channels = MakeDivisible(StemChannels * width);
        stem = new ConvBn(inputChannels, channels, kernelSize: 3, stride: stemStride, activation: Activation.ReLU6, role: LayerRole.First, plan: plan);
        var blocks = new List<InvertedResidual>();
        foreach (var (t, c, n, s) in Stages)
        {
            int output = MakeDivisible(c * width);
            for (int i = 0; i < n; i++)
            {
                blocks.Add(new InvertedResidual(channels, output, i == 0 ? s : 1, t, plan));
                channels = output;
            }
        }
        features = ModuleList(blocks.ToArray());
        HeadOutputChannels = width > 1 ? MakeDivisible(HeadChannels * width) : HeadChannels;
        head = new ConvBn(channels, HeadOutputChannels, kernelSize: 1, activation: Activation.ReLU6, plan: plan);
        pool = AdaptiveAvgPool2d(1);
        classifier = new QuantLinear(HeadOutputChannels, classes, LayerRole.Last, plan);
        RegisterComponents();
        Layers = QuantizableLayers.Bind(this, [stem, .. blocks.SelectMany(b => b.Layers), head, classifier]);
        QuantizableLayers.InitializeUniformFanIn(Layers, generator);
    }

    public double Width { get; }

    /// <summary>Channels entering the classifier (the head's output).</summary>
    public int HeadOutputChannels { get; }

    public IReadOnlyList<IQuantizableLayer> Layers { get; }

    /// <summary>
    /// The reference implementation's channel rounding: the multiple of <paramref name="divisor"/> nearest to
    /// <paramref name="value"/> (halves up), at least <paramref name="divisor"/>, and never more than 10 % below the value.
    /// </summary>
    public static int MakeDivisible(double value, int divisor = 8)
    {
        int rounded = Math.Max(divisor, (int)(value + divisor / 2.0) / divisor * divisor);
        if (rounded < 0.9 * value) rounded += divisor;
        return rounded;
    }

    /// <summary>Whether training steps run the conv layers' quantizers back to back first (<see cref="QuantizableLayers.QuantizeAhead"/>); off only to compare.</summary>
    internal bool QuantizeAhead { get; set; } = true;

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        using var prepared = QuantizableLayers.QuantizeAhead(Layers, training && QuantizeAhead);
        var x = stem.call(ChannelsLast.Of(input)); // the whole network then runs channels-last (see ChannelsLast); call: hooks see it
        foreach (var block in features)
        {
            var next = block.forward(x);
            x.Dispose(); // free the activation now (autograd keeps what it needs), not at the end of the scope
            x = next;
        }
        x = head.forward(x);
        x = pool.forward(x).flatten(1);
        return classifier.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// An inverted residual block: 1×1 expansion (<c>expand</c>, ReLU6; absent when the expansion is 1), 3×3 depthwise
/// (<c>dw</c>, ReLU6) and a linear 1×1 projection (<c>project</c>); input + output when stride is 1 and the channels match.
/// </summary>
public sealed class InvertedResidual : Module<Tensor, Tensor>
{
    private readonly ConvBn? expand;
    private readonly ConvBn dw;
    private readonly ConvBn project;
    private readonly bool residual;

    public InvertedResidual(int inputChannels, int outputChannels, int stride, int expansion, QuantizationPlan? plan = null)
        : base(nameof(InvertedResidual))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(expansion, 1);
        int hidden = inputChannels * expansion;
        expand = expansion == 1 ? null : new ConvBn(inputChannels, hidden, kernelSize: 1, activation: Activation.ReLU6, plan: plan);
        dw = new ConvBn(hidden, hidden, kernelSize: 3, stride: stride, groups: hidden, activation: Activation.ReLU6, plan: plan);
        project = new ConvBn(hidden, outputChannels, kernelSize: 1, activation: Activation.None, plan: plan);
        residual = stride == 1 && inputChannels == outputChannels;
        RegisterComponents();
    }

    /// <summary>The block's layers, in forward order.</summary>
    internal IEnumerable<IQuantizableLayer> Layers => expand is null ? [dw, project] : [expand, dw, project];

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = expand is null ? input : expand.forward(input);
        x = dw.forward(x);
        x = project.forward(x);
        if (residual) x = x.add_(input, HeldScalars.One); // a held alpha: add_'s default is a scalar made on the fly (HeldScalars)
        return x.MoveToOuterDisposeScope();
    }
}
