using Sweeper.Core.Trials;
using Sweeper.Training.Trainables;

namespace Sweeper.Training.Plugins;

/// <summary>
/// Creates the trainable of a trial whose model is a plug-in (<see cref="Core.Spec.TrainableSpec.Plugin"/>): a training-loop
/// plug-in (<see cref="PluginKind.Trainable"/>) is constructed with the trial's config (and its <see cref="TrialContext"/>
/// when it takes one); a model plug-in (<see cref="PluginKind.Model"/>) is trained by a <see cref="TorchTrainable"/>,
/// exactly like the built-in models. Call <see cref="Create(TrialConfig, TrialContext)"/> on the trial's own thread.
/// </summary>
public sealed class PluginTrainableFactory : ITrainableFactory
{
    /// <exception cref="ArgumentException">The trial has no plug-in.</exception>
    /// <exception cref="PluginLoadException">The plug-in cannot be loaded or constructed (see <see cref="PluginLoader.Resolve"/>).</exception>
    public ITrainable Create(TrialConfig config) => CreateFor(config, null);

    /// <inheritdoc cref="Create(TrialConfig)"/>
    public ITrainable Create(TrialConfig config, TrialContext context) => CreateFor(config, context);

    private static ITrainable CreateFor(TrialConfig config, TrialContext? context)
    {
        ArgumentNullException.ThrowIfNull(config);
        var plugin = config.Trainable.Plugin
            ?? throw new ArgumentException($"Trial {config.Id} has no model plug-in (trainable.model is '{config.Trainable.Model}').", nameof(config));
        return PluginLoader.KindOf(plugin) == PluginKind.Trainable
            ? PluginLoader.CreateTrainable(plugin, config, context)
            : new TorchTrainable(config);
    }
}
