using Sweeper.Quantization;
using Sweeper.Core.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Plugins;

/// <summary>What a model plug-in is built for: the input the data set gives, the classes, the spec's free-form args and the init generator.</summary>
public sealed class ModelContext
{
    /// <param name="inputChannels">Channels of the images the model sees (after <c>trainable.input_channels</c>).</param>
    /// <param name="inputSize">Side length of the images the model sees (after <c>trainable.input_size</c>).</param>
    /// <param name="classes">Number of logits.</param>
    /// <param name="args">The trial's <c>trainable.args</c>.</param>
    /// <param name="generator">The trial's weight-initialization generator (seeded from the trial seed); not owned, and valid only during <see cref="ISweeperModel.Build"/>.</param>
    public ModelContext(int inputChannels, int inputSize, int classes, TrainableArgs args, Generator generator)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(generator);
        InputChannels = inputChannels;
        InputSize = inputSize;
        Classes = classes;
        Args = args;
        Generator = generator;
    }

    /// <summary>Channels of the input images (1 grey, 3 colour).</summary>
    public int InputChannels { get; }

    /// <summary>Side length of the (square) input images.</summary>
    public int InputSize { get; }

    /// <summary>Number of output logits.</summary>
    public int Classes { get; }

    /// <summary>The trial's <c>trainable.args</c> (swept keys applied), with typed getters (<see cref="TrainableArgs.GetInt32"/>, ...).</summary>
    public TrainableArgs Args { get; }

    /// <summary>
    /// The generator every initial weight should come from: seeded from the trial seed, private to the trial. TorchSharp's
    /// modules initialize themselves from the global generator when constructed, which concurrent trials share; draw
    /// the weights again from this one (<see cref="ResetParameters"/>, or <c>tensor.uniform_(…, generator)</c>) for
    /// runs that repeat bit for bit. (<c>nn.init.*</c> ignores its generator argument in TorchSharp 0.107.)
    /// </summary>
    public Generator Generator { get; }

    /// <summary>
    /// Draws every <c>Conv2d</c> and <c>Linear</c> weight and bias of <paramref name="module"/> from <see cref="Generator"/>,
    /// uniform in ±1/√fan_in, in module order (the initialization of the built-in models), and resets every BatchNorm to
    /// γ = 1, β = 0 with fresh running statistics. Returns <paramref name="module"/>.
    /// </summary>
    public T ResetParameters<T>(T module) where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(module);
        using var noGrad = torch.no_grad();
        foreach (var (_, m) in module.named_modules().Prepend(("", module)))
        {
            switch (m)
            {
                case TorchSharp.Modules.Conv2d conv:
                    UniformFanIn(conv.weight!, conv.bias);
                    break;
                case TorchSharp.Modules.Linear linear:
                    UniformFanIn(linear.weight!, linear.bias);
                    break;
                case TorchSharp.Modules.BatchNorm2d bn:
                    bn.weight?.fill_(HeldScalars.One); // held: fill_(1) makes its 1 on the fly (HeldScalars)
                    bn.bias?.zero_();
                    bn.running_mean?.zero_();
                    bn.running_var?.fill_(HeldScalars.One);
                    bn.num_batches_tracked?.zero_();
                    break;
            }
        }
        return module;
    }

    private void UniformFanIn(Tensor weight, Tensor? bias)
    {
        long fanIn = weight.numel() / weight.shape[0];
        double bound = 1 / Math.Sqrt(fanIn);
        weight.uniform_(-bound, bound, Generator);
        bias?.uniform_(-bound, bound, Generator);
    }
}
