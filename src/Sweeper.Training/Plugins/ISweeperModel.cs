using Sweeper.Core.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Plugins;

/// <summary>
/// The plug-in API's version. A plug-in built against this version of <c>Sweeper.Training</c> works with every Sweeper
/// whose <see cref="Version"/> is the same; a change to <see cref="ISweeperModel"/> or <see cref="ModelContext"/> that
/// breaks plug-ins increments it.
/// </summary>
/// <remarks>
/// A plug-in is a type in a .NET assembly named by <c>trainable.model: {assembly, type}</c>, either
/// <list type="bullet">
/// <item>an <see cref="ISweeperModel"/> (public parameterless constructor): Sweeper builds its module, puts the
/// spec's quantizer into every <c>Conv2d</c> and <c>Linear</c> (<see cref="Quantized.ModuleSurgery"/>) and trains it
/// like the built-in MobileNets (data, optimizer, checkpoints, diagnostics, stability monitor, export); or</item>
/// <item>a whole training loop: a <see cref="Core.Trials.ITrainable"/> with a public constructor
/// <c>(TrialConfig config)</c> or <c>(TrialConfig config, TrialContext context)</c>, which may also implement
/// <see cref="Core.Trials.ICheckpointable"/> and <see cref="Core.Trials.IReportsSteps"/>.</item>
/// </list>
/// The plug-in's project references <c>Sweeper.Training</c> (and through it TorchSharp) without copying them to its
/// output (<c>Private="false"</c>): <see cref="PluginLoader"/> gives every plug-in the host's Sweeper and TorchSharp
/// assemblies, and resolves its other dependencies from its own folder.
/// </remarks>
public static class PluginApi
{
    /// <summary>The version of the plug-in API this assembly implements.</summary>
    public const int Version = 1;
}

/// <summary>
/// A model plug-in: builds a TorchSharp module for a trial. Sweeper replaces the module's <c>Conv2d</c>s and
/// <c>Linear</c>s by quantized layers afterwards (see <see cref="Quantized.ModuleSurgery"/> for what that needs of the
/// module: its submodules registered with <c>RegisterComponents()</c>, fields that hold a <c>Conv2d</c>/<c>Linear</c>
/// declared as <c>Module&lt;Tensor, Tensor&gt;</c> unless the layer sits in a <c>Sequential</c> or <c>ModuleList</c>).
/// </summary>
/// <remarks>Implementations need a public parameterless constructor; one instance may build several modules.</remarks>
public interface ISweeperModel
{
    /// <summary>
    /// A new float module that maps a batch <c>[N, InputChannels, InputSize, InputSize]</c> to logits <c>[N, Classes]</c>.
    /// Draw its initial weights from <see cref="ModelContext.Generator"/> (e.g. with
    /// <see cref="ModelContext.ResetParameters"/>) so that a trial's seed alone decides them.
    /// </summary>
    nn.Module<Tensor, Tensor> Build(ModelContext context);
}

/// <summary>What a model plug-in is built for: the input the data set gives, the classes, the spec's free-form args and the init generator.</summary>
public sealed class ModelContext
{
    /// <param name="inputChannels">Channels of the images the model sees (after <c>trainable.input_channels</c>).</param>
    /// <param name="inputSize">Side length of the images the model sees (after <c>trainable.input_size</c>).</param>
    /// <param name="classes">Number of logits.</param>
    /// <param name="args">The trial's <c>trainable.args</c>.</param>
    /// <param name="generator">The trial's weight-initialization generator (seeded from the trial seed); not owned.</param>
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
                    bn.weight?.fill_(1);
                    bn.bias?.zero_();
                    bn.running_mean?.zero_();
                    bn.running_var?.fill_(1);
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
