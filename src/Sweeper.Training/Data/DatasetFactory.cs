using Sweeper.Core.Spec;

namespace Sweeper.Training.Data;

/// <summary>
/// Maps a <see cref="DatasetSpec"/> to its loader by format (<see cref="DatasetFormats.Of"/>): <see cref="IdxDataset"/>,
/// <see cref="CifarDataset"/> or <see cref="NpyDataset"/>.
/// </summary>
public static class DatasetFactory
{
    /// <summary>The data set names this version knows without a <see cref="DatasetSpec.Format"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = DatasetFormats.Known.Keys.ToArray();

    /// <summary>
    /// The process-wide shared copy of the data set the spec names (loaded once per format, name, folder and subsets;
    /// never modify or dispose its tensors), with <see cref="DatasetSpec.Validation"/> images held out of its training
    /// split (<see cref="ValidationSplit"/>, chosen from <see cref="DatasetSpec.SplitSeed"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown data set name or format, or a validation setting that leaves nothing to train on.</exception>
    /// <exception cref="DatasetNotFoundException">The folder or one of its files is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed (the message names it and what is wrong).</exception>
    public static ImageDataset GetShared(DatasetSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var data = FormatOf(spec) switch
        {
            DatasetFormats.Idx => IdxDataset.GetShared(spec.Name, spec.Path, spec.TrainSubset, spec.TestSubset),
            DatasetFormats.Cifar => CifarDataset.GetShared(spec.Name, spec.Path, spec.TrainSubset, spec.TestSubset),
            _ => NpyDataset.GetShared(spec.Name, spec.Path, spec.TrainSubset, spec.TestSubset),
        };
        if (spec.Validation is not { } validation) return data;
        return ValidationSplit.GetShared(data, ValidationSplit.CountFor(validation, data.Train.Count), spec.SplitSeed);
    }

    /// <summary>
    /// The problems a spec's loader can report before anything runs, cheaply (no file is read): an unknown name or
    /// format, a missing folder, each missing file (named with its full path and what the format expects). Empty when
    /// the files are all there; malformed contents are found only when the data set is loaded.
    /// </summary>
    public static IReadOnlyList<string> Check(DatasetSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string format;
        try
        {
            format = FormatOf(spec);
        }
        catch (ArgumentException e)
        {
            return [e.Message];
        }
        return format switch
        {
            DatasetFormats.Idx => IdxDataset.Check(spec.Name, spec.Path),
            DatasetFormats.Cifar => CifarDataset.Check(spec.Name, spec.Path),
            _ => NpyDataset.Check(spec.Name, spec.Path),
        };
    }

    /// <summary>The spec's format: its own, or its known set's.</summary>
    /// <exception cref="ArgumentException">Neither, or a format this version does not know.</exception>
    private static string FormatOf(DatasetSpec spec)
    {
        var format = DatasetFormats.Of(spec)
            ?? throw new ArgumentException(
                $"Unknown data set '{spec.Name}'. Known sets: {string.Join(", ", Names)}; for another set, give trainable.dataset.format ({string.Join(", ", DatasetFormats.All)}).",
                nameof(spec));
        if (!DatasetFormats.All.Contains(format))
            throw new ArgumentException(
                $"Unknown data set format '{format}' (trainable.dataset.format). Valid formats: {string.Join(", ", DatasetFormats.All)}.", nameof(spec));
        return format;
    }
}
