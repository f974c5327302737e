using Sweeper.Core.Trials;

namespace Sweeper.Training.Trainables.Command;

/// <summary>Creates a <see cref="CommandTrainable"/> per assignment of a trial whose spec has a <c>trainable.command</c>.</summary>
public sealed class CommandTrainableFactory : ITrainableFactory
{
    /// <summary>
    /// Creates the trainable with its files in a fresh folder under the system temp folder (a caller without a sweep's
    /// checkpoint folder, e.g. a quick check of a program); it is left there.
    /// </summary>
    public ITrainable Create(TrialConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string folder = Path.Combine(Path.GetTempPath(), "sweeper-command", $"{config.Id}-{Guid.NewGuid():N}");
        return new CommandTrainable(config, new TrialContext(folder, 1));
    }

    /// <summary>Creates the trainable of one assignment, with its files in <paramref name="context"/>'s folders.</summary>
    public ITrainable Create(TrialConfig config, TrialContext context) => new CommandTrainable(config, context);
}
