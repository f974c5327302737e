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
/// </summary>
public sealed class MobileNetV1 : Module<Tensor, Tensor>
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

    private readonly Conv2d stem;
    private readonly BatchNorm2d stemBn;
    private readonly ModuleList<DepthwiseSeparableConv> blocks;
    private readonly AdaptiveAvgPool2d pool;
    private readonly Linear classifier;

    /// <param name="width">Width multiplier (&gt; 0), e.g. 0.25, 0.5, 1.</param>
    /// <param name="inputChannels">1 (grey) or 3 (colour).</param>
    /// <param name="classes">Number of output logits.</param>
    /// <param name="stemStride">Stride of the stem: 1 for 28×28–32×32 inputs, 2 for 224×224.</param>
    /// <param name="generator">Draws the initial weights (see <see cref="Initialize"/>); null uses the global generator.</param>
    public MobileNetV1(double width, int inputChannels = 1, int classes = 10, int stemStride = 1, Generator? generator = null)
        : base(nameof(MobileNetV1))
    {
        if (!(width > 0) || double.IsInfinity(width)) throw new ArgumentOutOfRangeException(nameof(width), width, "The width multiplier must be a positive number.");
        if (inputChannels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(inputChannels), inputChannels, "Input channels must be 1 or 3.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier needs at least 2 classes.");
        if (stemStride is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(stemStride), stemStride, "The stem stride must be 1 or 2.");

        Width = width;
        int channels = ScaleChannels(StemChannels, width);
        stem = Conv2d(inputChannels, channels, kernel_size: 3, stride: stemStride, padding: 1, bias: false);
        stemBn = BatchNorm2d(channels);
        var list = new List<DepthwiseSeparableConv>();
        foreach (var (c, stride) in Blocks)
        {
            int next = ScaleChannels(c, width);
            list.Add(new DepthwiseSeparableConv(channels, next, stride));
            channels = next;
        }
        blocks = ModuleList(list.ToArray());
        pool = AdaptiveAvgPool2d(1);
        classifier = Linear(channels, classes);
        FeatureChannels = channels;
        RegisterComponents();
        Initialize(generator);
    }

    public double Width { get; }

    /// <summary>Channels entering the classifier.</summary>
    public int FeatureChannels { get; }

    /// <summary>Channels of a layer at width multiplier <paramref name="width"/>: max(8, round(c × width)).</summary>
    public static int ScaleChannels(int channels, double width) =>
        Math.Max(8, (int)Math.Round(channels * width, MidpointRounding.AwayFromZero));

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = functional.relu(stemBn.forward(stem.forward(input)), inplace: true);
        foreach (var block in blocks)
        {
            var next = block.forward(x);
            x.Dispose(); // free the activation now (autograd keeps what it needs), not at the end of the scope
            x = next;
        }
        x = pool.forward(x).flatten(1);
        return classifier.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// PyTorch's default initialization (uniform ±1/sqrt(fan_in) for convolutions and the classifier, BatchNorm
    /// γ=1 β=0), drawn from <paramref name="generator"/> so that a trial's weights depend on its seed only.
    /// Larger schemes such as Kaiming-normal fan-out make every BatchNorm-ed layer learn several times more slowly
    /// at the same learning rate, which the short runs of a sweep cannot afford.
    /// </summary>
    private void Initialize(Generator? generator)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Conv2d conv:
                    UniformFanIn(conv.weight!, conv.bias, generator);
                    break;
                case BatchNorm2d bn:
                    init.ones_(bn.weight!);
                    init.zeros_(bn.bias!);
                    break;
                case Linear linear:
                    UniformFanIn(linear.weight!, linear.bias, generator);
                    break;
            }
        }
    }

    private static void UniformFanIn(Tensor weight, Tensor? bias, Generator? generator)
    {
        // weight is [out, in/groups, k, k] or [out, in]: fan-in is everything but the first dimension.
        long fanIn = weight.numel() / weight.shape[0];
        double bound = 1 / Math.Sqrt(fanIn);
        // Tensor.uniform_, not nn.init.uniform_: the latter ignores its generator argument in TorchSharp 0.107.
        weight.uniform_(-bound, bound, generator);
        bias?.uniform_(-bound, bound, generator);
    }
}

/// <summary>A 3×3 depthwise convolution and a 1×1 pointwise convolution, each followed by BatchNorm and ReLU.</summary>
public sealed class DepthwiseSeparableConv : Module<Tensor, Tensor>
{
    private readonly Conv2d depthwise;
    private readonly BatchNorm2d depthwiseBn;
    private readonly Conv2d pointwise;
    private readonly BatchNorm2d pointwiseBn;

    public DepthwiseSeparableConv(int inputChannels, int outputChannels, int stride)
        : base(nameof(DepthwiseSeparableConv))
    {
        depthwise = Conv2d(inputChannels, inputChannels, kernel_size: 3, stride: stride, padding: 1, groups: inputChannels, bias: false);
        depthwiseBn = BatchNorm2d(inputChannels);
        pointwise = Conv2d(inputChannels, outputChannels, kernel_size: 1, bias: false);
        pointwiseBn = BatchNorm2d(outputChannels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = functional.relu(depthwiseBn.forward(depthwise.forward(input)), inplace: true);
        x = functional.relu(pointwiseBn.forward(pointwise.forward(x)), inplace: true);
        return x.MoveToOuterDisposeScope();
    }
}
