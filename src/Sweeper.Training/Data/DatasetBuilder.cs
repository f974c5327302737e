using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Data;

/// <summary>
/// One split as read from its files, before it becomes tensors: <see cref="Count"/> square images of
/// <see cref="Channels"/> × <see cref="Size"/> × <see cref="Size"/> values, either bytes (<see cref="Bytes"/>, scaled by
/// 1/255 when built) or floats (<see cref="Floats"/>, taken as they are), in CHW order or, with
/// <see cref="ChannelsLast"/>, HWC order per image; and their labels (already checked against the class count).
/// </summary>
internal sealed record RawSplit(
    string ImagesPath, int Count, int Channels, int Size, bool ChannelsLast, byte[]? Bytes, float[]? Floats, long[] Labels)
{
    public string Describe() => $"{Channels}×{Size}×{Size}";
}

/// <summary>How the loaders turn raw splits into an <see cref="ImageDataset"/>, and the cache that shares them.</summary>
internal static class DatasetBuilder
{
    private static readonly ConcurrentDictionary<(string Format, string Name, string Path, int? Train, int? Test), Lazy<ImageDataset>> Cache = new();

    /// <summary>
    /// The process-wide copy of one data set: loaded once however many trials ask at the same time; a failed load is not
    /// cached (a later call tries again). Its tensors belong to no dispose scope and live as long as the process.
    /// </summary>
    public static ImageDataset GetShared(string format, string name, string path, int? trainSubset, int? testSubset,
        Func<string, ImageDataset> load)
    {
        var key = (format, name, System.IO.Path.GetFullPath(path), trainSubset, testSubset);
        var lazy = Cache.GetOrAdd(key, k => new Lazy<ImageDataset>(() => load(k.Path), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Cache.TryRemove(new KeyValuePair<(string, string, string, int?, int?), Lazy<ImageDataset>>(key, lazy));
            throw;
        }
    }

    /// <summary>The first <paramref name="subset"/> of <paramref name="count"/> items (all when null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative subset, or more than the file holds.</exception>
    public static int Take(int count, int? subset, string path)
    {
        if (subset is not { } n) return count;
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(subset), n, "A subset size cannot be negative.");
        if (n > count)
            throw new ArgumentOutOfRangeException(nameof(subset), n, $"'{path}' holds only {count} items; cannot take the first {n}.");
        return n;
    }

    /// <summary>Checks that every label is in 0..classes-1.</summary>
    /// <exception cref="InvalidDataException">A label out of range, naming the file, the item and the valid range.</exception>
    public static void CheckLabels(ReadOnlySpan<long> labels, int classes, string path, string datasetName, int firstIndex = 0)
    {
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0 || labels[i] >= classes)
                throw new InvalidDataException(
                    $"'{path}' holds label {labels[i]} (item {firstIndex + i}); {datasetName} labels are 0..{classes - 1} (label out of range).");
        }
    }

    /// <summary>
    /// The per-channel mean and (population) standard deviation of the training images' pixels (bytes scaled to [0,1]),
    /// computed in double precision in a fixed order so they depend only on the pixels. A channel whose pixels are all
    /// equal gets std 1.
    /// </summary>
    /// <exception cref="InvalidDataException">A float pixel that is NaN or infinite.</exception>
    public static (float[] Mean, float[] Std) Statistics(RawSplit train)
    {
        int c = train.Channels;
        long plane = (long)train.Size * train.Size;
        var means = new double[c];
        var variances = new double[c];
        if (train.Bytes is { } bytes)
        {
            var histogram = new long[c, 256];
            if (train.ChannelsLast && c > 1)
            {
                for (long i = 0; i < bytes.LongLength; i++) histogram[(int)(i % c), bytes[i]]++;
            }
            else
            {
                // CHW: whole planes of one channel at a time.
                for (long start = 0; start < bytes.LongLength; start += plane)
                {
                    int ch = (int)(start / plane % c);
                    foreach (var v in bytes.AsSpan((int)start, (int)plane)) histogram[ch, v]++;
                }
            }
            for (int ch = 0; ch < c; ch++)
            {
                double sum = 0, sumSquares = 0;
                long n = 0;
                for (int v = 0; v < 256; v++)
                {
                    double x = v / 255.0;
                    long k = histogram[ch, v];
                    sum += k * x;
                    sumSquares += k * x * x;
                    n += k;
                }
                if (n == 0) continue;
                means[ch] = sum / n;
                variances[ch] = sumSquares / n - means[ch] * means[ch];
            }
        }
        else
        {
            var floats = train.Floats!;
            // Sums of (x - shift), shift = the channel's first value, so that the variance keeps its digits when the
            // mean is large next to the spread.
            var shift = new double[c];
            for (int ch = 0; ch < c && floats.LongLength > 0; ch++) shift[ch] = floats[train.ChannelsLast ? ch : ch * plane];
            var sum = new double[c];
            var sumSquares = new double[c];
            var n = new long[c];
            for (long i = 0; i < floats.LongLength; i++)
            {
                double x = floats[i];
                if (!double.IsFinite(x))
                    throw new InvalidDataException($"'{train.ImagesPath}' holds a non-finite pixel value ({x}) at flat index {i}.");
                int ch = ChannelOf(i);
                x -= shift[ch];
                sum[ch] += x;
                sumSquares[ch] += x * x;
                n[ch]++;
            }
            for (int ch = 0; ch < c; ch++)
            {
                if (n[ch] == 0) continue;
                double centred = sum[ch] / n[ch];
                means[ch] = shift[ch] + centred;
                variances[ch] = sumSquares[ch] / n[ch] - centred * centred;
            }
        }

        var mean = new float[c];
        var std = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            double s = Math.Sqrt(Math.Max(0, variances[ch]));
            mean[ch] = (float)means[ch];
            std[ch] = double.IsFinite(s) && (float)s > 0 ? (float)s : 1f;
        }
        return (mean, std);

        int ChannelOf(long i) => c == 1 ? 0 : train.ChannelsLast ? (int)(i % c) : (int)(i / plane % c);
    }

    /// <summary>
    /// Builds the data set's tensors: pixels to float32 [N,C,H,W] (bytes divided by 255), then per channel minus
    /// <paramref name="mean"/> and divided by <paramref name="std"/> (with null: the training images' own,
    /// <see cref="Statistics"/>). For one channel the operations are those Sweeper always ran on Fashion-MNIST
    /// (<c>to float, / 255, - mean, / std</c>, in place), so its tensors stay bit-identical.
    /// </summary>
    /// <exception cref="InvalidDataException">The training and test images differ in shape or kind.</exception>
    public static ImageDataset Build(string name, string folder, RawSplit train, RawSplit test, int classes, float[]? mean = null, float[]? std = null)
    {
        if (train.Channels != test.Channels || train.Size != test.Size)
            throw new InvalidDataException(
                $"'{train.ImagesPath}' holds {train.Describe()} images but '{test.ImagesPath}' holds {test.Describe()} images; the training and test images must have the same shape.");
        if ((train.Bytes is null) != (test.Bytes is null))
            throw new InvalidDataException(
                $"'{train.ImagesPath}' and '{test.ImagesPath}' hold different kinds of pixels (one bytes, the other floats); both must be the same.");
        if (mean is null || std is null) (mean, std) = Statistics(train);

        // Build inside a private scope so that nothing lands in a caller's scope; keep only the results.
        using var scope = torch.NewDisposeScope();
        var trainSplit = ToSplit(train, mean, std);
        var testSplit = ToSplit(test, mean, std);
        return new ImageDataset(name, folder, trainSplit, testSplit, classes, mean, std);
    }

    private static ImageSplit ToSplit(RawSplit raw, float[] mean, float[] std)
    {
        long[] shape = raw.ChannelsLast
            ? [raw.Count, raw.Size, raw.Size, raw.Channels]
            : [raw.Count, raw.Channels, raw.Size, raw.Size];
        Tensor x = raw.Bytes is { } bytes
            ? torch.tensor(bytes, shape, dtype: ScalarType.Byte).to_type(ScalarType.Float32).div_(255f)
            : torch.tensor(raw.Floats!, shape, dtype: ScalarType.Float32);
        if (raw.ChannelsLast) x = x.permute(0, 3, 1, 2).contiguous();
        if (raw.Channels == 1)
        {
            x.sub_(mean[0]).div_(std[0]);
        }
        else
        {
            for (int c = 0; c < raw.Channels; c++) x.select(1, c).sub_(mean[c]).div_(std[c]);
        }
        var y = torch.tensor(raw.Labels, [raw.Labels.Length], dtype: ScalarType.Int64);
        return new ImageSplit(x.DetachFromDisposeScope(), y.DetachFromDisposeScope());
    }
}
