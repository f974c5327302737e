using Sweeper.Core.Trials;
using Sweeper.Core.Trials.Synthetic;
using Sweeper.Training.Plugins;
using Sweeper.Training.Trainables;
using Sweeper.Training.Trainables.Command;

namespace Sweeper.Cli.Running;

/// <summary>
/// Picks each trial's trainable by its model: a program's (<see cref="CommandTrainableFactory"/>) for
/// <c>trainable.command</c>, a plug-in's (<see cref="PluginTrainableFactory"/>) when <c>trainable.model</c> names one,
/// the learning-curve simulator for <c>synthetic</c>, TorchSharp otherwise.
/// </summary>
public sealed class TrainableFactories : ITrainableFactory
{
    public static readonly TrainableFactories Default = new();

    private readonly TorchTrainableFactory _torch = new();
    private readonly CommandTrainableFactory _command = new();
    private readonly PluginTrainableFactory _plugins = new();

    /// <summary>
    /// A program (<c>trainable.command</c>) and a training-loop plug-in may keep files in the assignment's folders; a
    /// TorchSharp trainable takes the assignment's intra-op threads (<see cref="TrialContext.IntraOpThreads"/>).
    /// </summary>
    public ITrainable Create(TrialConfig config, TrialContext context) =>
        config.Trainable.Command is not null ? _command.Create(config, context)
        : config.Trainable.Plugin is not null ? _plugins.Create(config, context)
        : config.Trainable.Model == "synthetic" ? Create(config)
        : _torch.Create(config, context);

    public ITrainable Create(TrialConfig config) =>
        config.Trainable.Command is not null ? _command.Create(config)
        : config.Trainable.Plugin is not null ? _plugins.Create(config)
        : config.Trainable.Model == "synthetic"
        ? new SyntheticTrainable(config, new SyntheticTrainableOptions
        {
            EpochDuration = TimeSpan.FromSeconds(config.Trainable.Synthetic.EpochSeconds),
            NoiseStd = config.Trainable.Synthetic.NoiseStd,
        })
        : _torch.Create(config);
}
