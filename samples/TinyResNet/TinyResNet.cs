using Sweeper.Quantization;
using Sweeper.Training.Plugins;
using Sweeper.Training.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace TinyResNet;

/// <summary>
/// The plug-in: a small ResNet for 28×28–32×32 images. <c>trainable.args</c>: <c>channels</c> (the stem's output
/// channels, default 16) and <c>depth</c> (residual blocks, default 2; every block after the first halves the feature map
/// and doubles the channels). Its weights are drawn from the trial's generator (<see cref="ModelContext.ResetParameters"/>).
/// </summary>
public sealed class TinyResNetModel : ISweeperModel
{
    public nn.Module<Tensor, Tensor> Build(ModelContext context)
    {
        int channels = context.Args.GetInt32("channels", 16);
        int depth = context.Args.GetInt32("depth", 2);
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(context), channels, "trainable.args.channels must be ≥ 1.");
        if (depth < 1) throw new ArgumentOutOfRangeException(nameof(context), depth, "trainable.args.depth must be ≥ 1.");
        return context.ResetParameters(new TinyResNetNetwork(context.InputChannels, channels, depth, context.Classes));
    }
}

/// <summary>
/// Stem (3×3 conv + BN + ReLU in a Sequential), <c>depth</c> <see cref="ResidualBlock"/>s, global average pooling and a
/// linear classifier. Module paths: <c>stem.0</c>, <c>blocks.{i}.body.{0,3}</c>, <c>blocks.{i}.shortcut.0</c>, <c>classifier</c>.
/// </summary>
public sealed class TinyResNetNetwork : Module<Tensor, Tensor>
{
    private readonly Sequential stem;
    private readonly ModuleList<ResidualBlock> blocks;
    private readonly AdaptiveAvgPool2d pool;
    // Module<Tensor, Tensor>, not Linear: Sweeper puts a quantized layer in its place.
    private readonly Module<Tensor, Tensor> classifier;

    public TinyResNetNetwork(int inputChannels, int channels, int depth, int classes)
        : base(nameof(TinyResNetNetwork))
    {
        stem = Sequential(
            ("0", Conv2d(inputChannels, channels, 3, padding: 1, bias: false)),
            ("1", BatchNorm2d(channels)),
            ("2", ReLU()));
        var list = new List<ResidualBlock>();
        int width = channels;
        for (int i = 0; i < depth; i++)
        {
            int next = i == 0 ? width : width * 2;
            list.Add(new ResidualBlock(width, next, stride: i == 0 ? 1 : 2));
            width = next;
        }
        blocks = ModuleList(list.ToArray());
        pool = AdaptiveAvgPool2d(1);
        classifier = Linear(width, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = stem.forward(ChannelsLast.Of(input)); // the whole network then runs channels-last (faster; see its README)
        foreach (var block in blocks) x = block.forward(x);
        x = pool.forward(x).flatten(1);
        return classifier.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// relu(body(x) + shortcut(x)): the body is conv3×3 → BN → ReLU → conv3×3 → BN (two Conv→BN pairs, which Sweeper folds as
/// <c>bn_fold</c> says); the shortcut is the identity, or a 1×1 conv + BN when the shape changes.
/// </summary>
public sealed class ResidualBlock : Module<Tensor, Tensor>
{
    private readonly Sequential body;
    private readonly Module<Tensor, Tensor> shortcut;

    public ResidualBlock(int inputChannels, int outputChannels, int stride)
        : base(nameof(ResidualBlock))
    {
        body = Sequential(
            ("0", Conv2d(inputChannels, outputChannels, 3, stride: stride, padding: 1, bias: false)),
            ("1", BatchNorm2d(outputChannels)),
            ("2", ReLU()),
            ("3", Conv2d(outputChannels, outputChannels, 3, padding: 1, bias: false)),
            ("4", BatchNorm2d(outputChannels)));
        shortcut = stride == 1 && inputChannels == outputChannels
            ? Identity()
            : Sequential(
                ("0", Conv2d(inputChannels, outputChannels, 1, stride: stride, bias: false)),
                ("1", BatchNorm2d(outputChannels)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        // A held alpha: add_'s default alpha is a Scalar made on the fly, which TorchSharp 0.107 lets its finalizer free
        // while libtorch may still read it (see "Writing a model plug-in" in this sample's README).
        var y = body.forward(input).add_(shortcut.forward(input), HeldScalars.One);
        return functional.relu(y, inplace: true).MoveToOuterDisposeScope();
    }
}
