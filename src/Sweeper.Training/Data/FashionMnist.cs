using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Data;

/// <summary>
/// One split of an image classification data set as tensors: <see cref="Images"/> float32 [N,C,H,W], normalized,
/// and <see cref="Labels"/> int64 [N]. Split tensors handed out by <see cref="FashionMnist.GetShared"/> are shared
/// by every trial of the process: read them (index_select, narrow), never modify or dispose them.
/// </summary>
public sealed class ImageSplit
{
    internal ImageSplit(Tensor images, Tensor labels)
    {
        Images = images;
        Labels = labels;
    }

    public Tensor Images { get; }
    public Tensor Labels { get; }
    public int Count => (int)Labels.shape[0];
}

/// <summary>The train, validation (optional) and test splits of a data set.</summary>
public sealed class ImageDataset
{
    internal ImageDataset(string name, string path, ImageSplit train, ImageSplit test, int channels, int classes, double zeroPixelValue = 0, ImageSplit? validation = null)
    {
        Name = name; Path = path; Train = train; Test = test; Channels = channels; Classes = classes; ZeroPixelValue = zeroPixelValue; Validation = validation;
    }

    public string Name { get; }
    /// <summary>The folder the data was read from (full path).</summary>
    public string Path { get; }
    /// <summary>The images trained on (without the validation images, when there are any).</summary>
    public ImageSplit Train { get; }
    /// <summary>Images held out of the training set to select and prune trials on (null: none held out).</summary>
    public ImageSplit? Validation { get; }
    public ImageSplit Test { get; }
    public int Channels { get; }
    public int Classes { get; }
    /// <summary>The normalized value of a raw 0 (black) pixel: what zero-padding the raw images pads with.</summary>
    public double ZeroPixelValue { get; }
    /// <summary>Side of the (square) images.</summary>
    public int ImageSize => (int)Train.Images.shape[^1];
}

/// <summary>
/// Fashion-MNIST (60 000 training and 10 000 test images of 28×28, 10 classes) from its four idx files,
/// gzip-compressed or not. Pixels are scaled to [0,1] and normalized with mean 0.2860 and std 0.3530.
/// </summary>
public static class FashionMnist
{
    public const string Name = "fashion_mnist";
    public const string DefaultPath = "/usr/share/datasets/fashion-mnist";
    public const float Mean = 0.2860f;
    public const float Std = 0.3530f;
    public const int Classes = 10;
    public const int ImageSize = 28;

    public const string HowToInstall =
        "Install it with `apt-get install dataset-fashion-mnist` (Debian) or set trainable.dataset.path to the folder holding its idx files.";

    private const string TrainImagesFile = "train-images-idx3-ubyte";
    private const string TrainLabelsFile = "train-labels-idx1-ubyte";
    private const string TestImagesFile = "t10k-images-idx3-ubyte";
    private const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    private static readonly ConcurrentDictionary<(string Path, int? Train, int? Test), Lazy<ImageDataset>> Cache = new();

    /// <summary>
    /// The process-wide copy of the data set for this folder and these subset sizes, loaded once however many
    /// trials ask at the same time. Its tensors belong to no dispose scope and live as long as the process.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The folder or a file is missing (not cached: a later call tries again).</exception>
    /// <exception cref="InvalidDataException">A file is malformed (not cached either).</exception>
    public static ImageDataset GetShared(string path, int? trainSubset = null, int? testSubset = null)
    {
        var key = (System.IO.Path.GetFullPath(path), trainSubset, testSubset);
        var lazy = Cache.GetOrAdd(key, k => new Lazy<ImageDataset>(
            () => Load(k.Path, k.Train, k.Test), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Cache.TryRemove(new KeyValuePair<(string, int?, int?), Lazy<ImageDataset>>(key, lazy));
            throw;
        }
    }

    /// <summary>
    /// Loads the data set into new tensors that the caller owns (they belong to no dispose scope).
    /// <paramref name="trainSubset"/> and <paramref name="testSubset"/> keep only the first N images of a split.
    /// </summary>
    public static ImageDataset Load(string path, int? trainSubset = null, int? testSubset = null)
    {
        var folder = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(folder)) throw new DatasetNotFoundException("Fashion-MNIST", folder, HowToInstall);
        var train = LoadSplit(folder, TrainImagesFile, TrainLabelsFile, trainSubset);
        var test = LoadSplit(folder, TestImagesFile, TestLabelsFile, testSubset);
        return new ImageDataset(Name, folder, train, test, channels: 1, Classes, zeroPixelValue: (0 - Mean) / Std);
    }

    /// <summary>The path of an idx file in <paramref name="folder"/>: the gzip name if present, else the plain one.</summary>
    internal static string FindFile(string folder, string baseName)
    {
        var gz = System.IO.Path.Combine(folder, baseName + ".gz");
        if (File.Exists(gz)) return gz;
        var raw = System.IO.Path.Combine(folder, baseName);
        if (File.Exists(raw)) return raw;
        throw new DatasetNotFoundException("Fashion-MNIST", gz, HowToInstall);
    }

    private static ImageSplit LoadSplit(string folder, string imagesFile, string labelsFile, int? subset)
    {
        var imagesPath = FindFile(folder, imagesFile);
        var labelsPath = FindFile(folder, labelsFile);
        var labels = IdxReader.ReadLabels(labelsPath, subset);
        var images = IdxReader.ReadImages(imagesPath, subset);
        if (images.Count != labels.Length)
            throw new InvalidDataException(
                $"'{imagesPath}' holds {images.Count} images but '{labelsPath}' holds {labels.Length} labels (count mismatch).");
        if (images.Rows != ImageSize || images.Columns != ImageSize)
            throw new InvalidDataException($"'{imagesPath}' holds {images.Rows}×{images.Columns} images; Fashion-MNIST images are {ImageSize}×{ImageSize}.");
        foreach (var label in labels)
        {
            if (label >= Classes)
                throw new InvalidDataException($"'{labelsPath}' holds label {label}; Fashion-MNIST labels are 0..{Classes - 1}.");
        }

        // Build inside a private scope so that nothing lands in a caller's scope; keep only the two results.
        using var scope = torch.NewDisposeScope();
        var raw = torch.tensor(images.Pixels, [images.Count, 1, images.Rows, images.Columns], dtype: ScalarType.Byte);
        var x = raw.to_type(ScalarType.Float32).div_(255f).sub_(Mean).div_(Std);
        var y = torch.tensor(labels, [labels.Length], dtype: ScalarType.Byte).to_type(ScalarType.Int64);
        return new ImageSplit(x.DetachFromDisposeScope(), y.DetachFromDisposeScope());
    }
}
