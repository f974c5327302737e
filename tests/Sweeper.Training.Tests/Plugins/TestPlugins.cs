using Sweeper.Core.Model;
using Sweeper.Core.Trials;
using Sweeper.Training.Plugins;
using TorchSharp;
using static TorchSharp.torch;

// Plug-in types for PluginLoaderTests: the loader loads this test assembly's file into a load context of its own.
namespace Sweeper.Training.Tests.Plugins.Fixtures;

/// <summary>A model plug-in: Sequential(Conv2d, BatchNorm2d, ReLU, AdaptiveAvgPool2d, Flatten, Linear).</summary>
public sealed class SmallModel : ISweeperModel
{
    public nn.Module<Tensor, Tensor> Build(ModelContext context)
    {
        int channels = context.Args.GetInt32("channels", 4);
        return context.ResetParameters(nn.Sequential(
            ("conv", nn.Conv2d(context.InputChannels, channels, 3, padding: 1, bias: false)),
            ("bn", nn.BatchNorm2d(channels)),
            ("relu", nn.ReLU()),
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(channels, context.Classes))));
    }
}

public abstract class AbstractModel : ISweeperModel
{
    public abstract nn.Module<Tensor, Tensor> Build(ModelContext context);
}

public sealed class NotAPlugin
{
    public int Value { get; set; }
}

public sealed class NeedsArgumentModel(int size) : ISweeperModel
{
    public nn.Module<Tensor, Tensor> Build(ModelContext context) => nn.Linear(size, context.Classes);
}

public sealed class ThrowingModel : ISweeperModel
{
    public ThrowingModel() => throw new InvalidOperationException("no GPU here");

    public nn.Module<Tensor, Tensor> Build(ModelContext context) => throw new NotSupportedException();
}

/// <summary>A training-loop plug-in: one epoch per call, test_accuracy = the trial's seed / 100.</summary>
public class CountingTrainable(TrialConfig config) : ITrainable
{
    public TrialConfig Config { get; } = config;
    public TrialContext? Context { get; init; }
    public int TotalEpochs => Config.Trainable.Epochs;

    public EpochResult RunEpoch(int epoch, CancellationToken cancellationToken) =>
        new(epoch, new Dictionary<string, double> { [MetricNames.TestAccuracy] = Config.Seed / 100.0 }, TimeSpan.Zero);

    public void Dispose() { }
}

/// <summary>Takes its trial's folders when it is given them.</summary>
public sealed class ContextTrainable : CountingTrainable
{
    public ContextTrainable(TrialConfig config, TrialContext context) : base(config) => Context = context;
}

public sealed class WrongConstructorTrainable(string name) : CountingTrainable(new TrialConfig
{
    Id = new TrialId(0), Seed = name.Length, Parameters = [], Trainable = new Core.Spec.TrainableSpec { Dataset = new() },
});

public sealed class BuildThrowsModel : ISweeperModel
{
    public nn.Module<Tensor, Tensor> Build(ModelContext context) =>
        throw new ArgumentOutOfRangeException(nameof(context), "trainable.args.depth must be ≥ 1.");
}
