using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training;

namespace Sweeper.Cli.Running;

/// <summary>The trainable factory a spec's model needs.</summary>
public static class TrainableFactories
{
    public static ITrainableFactory For(SweepSpec spec) => new TorchTrainableFactory();
}
