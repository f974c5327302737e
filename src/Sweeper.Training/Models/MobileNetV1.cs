using Sweeper.Training.Quantized;
using Sweeper.Training.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Sweeper.Training.Models;

/// <summary>
/// A MobileNetV1-style classifier (Howard et al., 2017) for small images: a 3×3 stem convolution, thirteen
/// depthwise-separable blocks (3×3 depthwise + 1×1 pointwise, each followed by BatchNorm and ReLU), global average
/// pooling and a linear classifier. Channels follow 32, 64, 128, 128, 256, 256, 512×6, 1024, 1024, each scaled by the
/// width multiplier (<see cref="ScaleChannels"/>). For 28×28 inputs the stem has stride 1, so the four stride-2
/// blocks give feature maps 28 → 14 → 7 → 4 → 2.
/// <para>
/// Layers (module paths, as quantization diagnostics name them): <c>stem</c>, <c>features.{i}.dw</c>,
/// <c>features.{i}.pw</c> (i = 0..12), <c>classifier</c>. Every weight goes through the <see cref="QuantizationPlan"/>'s
/// quantizer, if any; the <c>dw</c> layers are depthwise (<see cref="ConvBn.IsDepthwise"/>), so per channel they get
/// one scale per channel or one per layer as <c>depthwise_per_channel</c> says.
/// </para>
/// </summary>
public sealed class MobileNetV1 : Module<Tensor, Tensor>, IQuantizableModel
{
    /// <summary>The stem's output channels at width 1.</summary>
    public const int StemChannels = 32;

    /// <summary>The blocks at width 1: output channels and stride of the depthwise convolution.</summary>
    public static IReadOnlyList<(int Channels, int Stride)> Blocks { get; } =
    [
        (64, 1), (128, 2), (128, 1), (256, 2), (256, 1),
        (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
        (1024, 2), (1024, 1),
    ];

    private readonly ConvBn stem;
    private readonly ModuleList<DepthwiseSeparableConv> features;
    private readonly AdaptiveAvgPool2d pool;
    private readonly QuantLinear classifier;

    /// <param name="width">Width multiplier (&gt; 0), e.g. 0.25, 0.5, 1.</param>
    /// <param name="inputChannels">1 (grey) or 3 (colour).</param>
    /// <param name="classes">Number of output logits.</param>
    /// <param name="stemStride">Stride of the stem: 1 for 28×28–32×32 inputs, 2 for 224×224.</param>
    /// <param name="generator">Draws the initial weights (see <see cref="QuantizableLayers.InitializeUniformFanIn"/>); null uses the global generator.</param>
    /// <param name="plan">Weight quantization and BN folding (null: float).</param>
    public MobileNetV1(double width, int inputChannels = 1, int classes = 10, int stemStride = 1, Generator? generator = null, QuantizationPlan? plan = null)
        : base(nameof(MobileNetV1))
    {
        if (!(width > 0) || double.IsInfinity(width)) throw new ArgumentOutOfRangeException(nameof(width), width, "The width multiplier must be a positive number.");
        if (inputChannels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(inputChannels), inputChannels, "Input channels must be 1 or 3.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier needs at least 2 classes.");
        if (stemStride is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(stemStride), stemStride, "The stem stride must be 1 or 2.");

        Width = width;
        int channels = ScaleChannels(StemChannels, width);
        stem = new ConvBn(inputChannels, channels, kernelSize: 3, stride: stemStride, role: LayerRole.First, plan: plan);
        var list = new List<DepthwiseSeparableConv>();
        foreach (var (c, stride) in Blocks)
        {
            int next = ScaleChannels(c, width);
            list.Add(new DepthwiseSeparableConv(channels, next, stride, plan));
            channels = next;
        }
        features = ModuleList(list.ToArray());
        pool = AdaptiveAvgPool2d(1);
        classifier = new QuantLinear(channels, classes, LayerRole.Last, plan);
        FeatureChannels = channels;
        RegisterComponents();
        Layers = QuantizableLayers.Bind(this, [stem, .. list.SelectMany(b => b.Layers), classifier]);
        QuantizableLayers.InitializeUniformFanIn(Layers, generator);
    }

    public double Width { get; }

    /// <summary>Channels entering the classifier.</summary>
    public int FeatureChannels { get; }

    public IReadOnlyList<IQuantizableLayer> Layers { get; }

    /// <summary>Channels of a layer at width multiplier <paramref name="width"/>: max(8, round(c × width)).</summary>
    public static int ScaleChannels(int channels, double width) =>
        Math.Max(8, (int)Math.Round(channels * width, MidpointRounding.AwayFromZero));

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
        x = pool.forward(x).flatten(1);
        return classifier.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>A 3×3 depthwise convolution (<c>dw</c>) and a 1×1 pointwise convolution (<c>pw</c>), each followed by BatchNorm and ReLU.</summary>
public sealed class DepthwiseSeparableConv : Module<Tensor, Tensor>
{
    private readonly ConvBn dw;
    private readonly ConvBn pw;

    public DepthwiseSeparableConv(int inputChannels, int outputChannels, int stride, QuantizationPlan? plan = null)
        : base(nameof(DepthwiseSeparableConv))
    {
        dw = new ConvBn(inputChannels, inputChannels, kernelSize: 3, stride: stride, groups: inputChannels, plan: plan);
        pw = new ConvBn(inputChannels, outputChannels, kernelSize: 1, plan: plan);
        RegisterComponents();
    }

    /// <summary>The depthwise and pointwise layers, in forward order.</summary>
    internal IEnumerable<IQuantizableLayer> Layers => [dw, pw];

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = dw.forward(input);
        x = pw.forward(x);
        return x.MoveToOuterDisposeScope();
    }
}
