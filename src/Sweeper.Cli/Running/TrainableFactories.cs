using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training;

namespace Sweeper.Cli.Running;

/// <summary>The trainable factory a spec's model needs.</summary>
public static class TrainableFactories
{
    /// <summary>Picks the trainable by each trial's model.</summary>
    public static readonly ITrainableFactory Default = new TorchTrainableFactory();
}
