using Sweeper.Core.Trials;

namespace Sweeper.Training.Trainables;

/// <summary>Creates a <see cref="TorchTrainable"/> per trial. Call <see cref="Create"/> on the trial's own thread.</summary>
public sealed class TorchTrainableFactory : ITrainableFactory
{
    public ITrainable Create(TrialConfig config) => new TorchTrainable(config);

    /// <summary>A trainable that uses the assignment's <see cref="TrialContext.IntraOpThreads"/>.</summary>
    public ITrainable Create(TrialConfig config, TrialContext context) => new TorchTrainable(config, context.IntraOpThreads);
}
