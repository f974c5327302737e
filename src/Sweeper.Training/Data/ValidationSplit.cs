using System.Collections.Concurrent;
using Sweeper.Core.Search;
using TorchSharp;
using static TorchSharp.torch;
using Sweeper.Core.Model;

namespace Sweeper.Training.Data;

/// <summary>
/// Holds a validation set out of a data set's training images: which images, chosen from the sweep seed alone, so every
/// trial of a sweep (and a rerun of it) trains on the same images and is judged on the same held-out ones.
/// </summary>
/// <remarks>
/// The training pool is the data set's training split as loaded (the first <c>train_subset</c> images, or all). A
/// Fisher–Yates shuffle of the pool's indices driven by SplitMix64 of <c>Seeds.Derive(seed, Stream)</c> puts
/// <see cref="CountFor"/> images in the validation split; the rest stay in the training split. Both keep the pool's
/// order (sorted indices), so the split does not depend on the torch version or thread count.
/// </remarks>
public static class ValidationSplit
{
    /// <summary>The stream tag that makes the split's seed independent of the trials' seeds.</summary>
    public const long Stream = 0x7A1D;

    private static readonly ConcurrentDictionary<(ImageDataset Data, int Count, long Seed), Lazy<ImageDataset>> Cache = new();

    /// <summary>
    /// How many images a <c>validation</c> setting holds out of <paramref name="pool"/> training images: a count
    /// (an integer ≥ 1) or a fraction in (0, 1) of the pool, rounded to the nearest image (at least one).
    /// </summary>
    /// <exception cref="ArgumentException">Not a positive count or fraction, or it would leave nothing to train on.</exception>
    public static int CountFor(double validation, int pool)
    {
        if (!(validation > 0) || !double.IsFinite(validation) || (validation >= 1 && validation != Math.Floor(validation)))
            throw new ArgumentException($"trainable.dataset.validation must be a count (an integer ≥ 1) or a fraction in (0, 1); got {validation}.");
        int count = validation < 1 ? Math.Max(1, (int)Math.Round(validation * pool, MidpointRounding.AwayFromZero)) : (int)validation;
        if (count >= pool)
            throw new ArgumentException(
                $"trainable.dataset.validation holds out {count} of the {pool} training images, which leaves nothing to train on.");
        return count;
    }

    /// <summary>The indices (ascending) of the validation images among <paramref name="pool"/> training images.</summary>
    public static int[] ValidationIndices(int pool, int count, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(count, pool);
        var order = new int[pool];
        for (int i = 0; i < pool; i++) order[i] = i;
        ulong state = (ulong)Seeds.Derive(seed, Stream);
        // Partial Fisher-Yates: the first `count` slots get a uniform sample without replacement.
        for (int i = 0; i < count; i++)
        {
            int j = i + (int)(SplitMix64.Next(ref state) % (ulong)(pool - i));
            (order[i], order[j]) = (order[j], order[i]);
        }
        var chosen = order[..count];
        Array.Sort(chosen);
        return chosen;
    }

    /// <summary>
    /// <paramref name="data"/> with <paramref name="count"/> training images moved to <see cref="ImageDataset.Validation"/>,
    /// shared per (data set, count, seed) like the data set itself (never modify or dispose its tensors).
    /// </summary>
    public static ImageDataset GetShared(ImageDataset data, int count, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        var key = (data, count, seed);
        return Cache.GetOrAdd(key, k => new Lazy<ImageDataset>(() => Split(k.Data, k.Count, k.Seed), LazyThreadSafetyMode.ExecutionAndPublication)).Value;
    }

    /// <summary>A new data set whose training images are split into training and validation (tensors owned by the caller).</summary>
    public static ImageDataset Split(ImageDataset data, int count, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Validation is not null) throw new ArgumentException("The data set already holds a validation split.", nameof(data));
        int pool = data.Train.Count;
        var validation = ValidationIndices(pool, count, seed);
        var isValidation = new bool[pool];
        foreach (var i in validation) isValidation[i] = true;
        var training = Enumerable.Range(0, pool).Where(i => !isValidation[i]).Select(i => (long)i).ToArray();

        using var scope = torch.NewDisposeScope();
        var valIndex = torch.tensor(validation.Select(i => (long)i).ToArray(), dtype: ScalarType.Int64);
        var trainIndex = torch.tensor(training, dtype: ScalarType.Int64);
        var train = new ImageSplit(
            data.Train.Images.index_select(0, trainIndex).DetachFromDisposeScope(),
            data.Train.Labels.index_select(0, trainIndex).DetachFromDisposeScope());
        var val = new ImageSplit(
            data.Train.Images.index_select(0, valIndex).DetachFromDisposeScope(),
            data.Train.Labels.index_select(0, valIndex).DetachFromDisposeScope());
        return data.WithSplits(train, data.Test, val);
    }
}
