using Sweeper.Core.Spec;

namespace Sweeper.Training.Data;

/// <summary>Maps <see cref="DatasetSpec.Name"/> to a loader.</summary>
public static class DatasetFactory
{
    /// <summary>The data set names this version knows.</summary>
    public static IReadOnlyList<string> Names { get; } = [FashionMnist.Name];

    /// <summary>
    /// The process-wide shared copy of the data set the spec names (see <see cref="FashionMnist.GetShared"/>), with
    /// <see cref="DatasetSpec.Validation"/> images held out of its training split (<see cref="ValidationSplit"/>, chosen
    /// from <see cref="DatasetSpec.SplitSeed"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown data set name, or a validation setting that leaves nothing to train on.</exception>
    public static ImageDataset GetShared(DatasetSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var data = spec.Name switch
        {
            FashionMnist.Name => FashionMnist.GetShared(spec.Path, spec.TrainSubset, spec.TestSubset),
            _ => throw new ArgumentException(
                $"Unknown data set '{spec.Name}'. Valid names: {string.Join(", ", Names)}.", nameof(spec)),
        };
        if (spec.Validation is not { } validation) return data;
        return ValidationSplit.GetShared(data, ValidationSplit.CountFor(validation, data.Train.Count), spec.SplitSeed);
    }
}
