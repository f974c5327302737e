namespace Sweeper.Training.Data;

/// <summary>
/// A data set in LeCun's idx format (<see cref="Sweeper.Core.Spec.DatasetFormats.Idx"/>): MNIST, KMNIST, Fashion-MNIST
/// or any other set laid out the same way — four files, each raw or gzip-compressed (<c>.gz</c>):
/// <c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c> and
/// <c>t10k-labels-idx1-ubyte</c>. The images are grey, square, one byte per pixel.
/// </summary>
/// <remarks>
/// Pixels are scaled to [0,1] and normalized with the mean and std of the training images as loaded (the first
/// <c>train_subset</c>), except <see cref="FashionMnist"/>'s, which keep its fixed constants (so its tensors are
/// bit-identical to earlier versions'). Classes: 10 for the known sets (<c>fashion_mnist</c>, <c>mnist</c>,
/// <c>kmnist</c>); for any other name, the largest label in the training and test label files plus one.
/// </remarks>
public static class IdxDataset
{
    public const string TrainImagesFile = "train-images-idx3-ubyte";
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";
    public const string TestImagesFile = "t10k-images-idx3-ubyte";
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>The four files of an idx folder (each may also be present with a <c>.gz</c> suffix).</summary>
    public static IReadOnlyList<string> Files { get; } = [TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile];

    /// <summary>The known idx sets and their class counts.</summary>
    public static IReadOnlyDictionary<string, int> KnownClasses { get; } = new Dictionary<string, int>
    {
        [FashionMnist.Name] = FashionMnist.Classes, ["mnist"] = 10, ["kmnist"] = 10,
    };

    /// <summary>What an idx folder holds, for error messages.</summary>
    public const string Expected =
        "an idx folder holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each raw or gzip-compressed (.gz)";

    /// <summary>
    /// The process-wide copy of the idx set <paramref name="name"/> in <paramref name="path"/> with these subset sizes,
    /// loaded once however many trials ask at the same time. Its tensors belong to no dispose scope and live as long
    /// as the process: never modify or dispose them.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The folder or a file is missing (not cached: a later call tries again).</exception>
    /// <exception cref="InvalidDataException">A file is malformed (not cached either).</exception>
    public static ImageDataset GetShared(string name, string path, int? trainSubset = null, int? testSubset = null) =>
        DatasetBuilder.GetShared(Sweeper.Core.Spec.DatasetFormats.Idx, name, path, trainSubset, testSubset,
            folder => Load(name, folder, trainSubset, testSubset));

    /// <summary>
    /// Loads the set into new tensors that the caller owns (they belong to no dispose scope).
    /// <paramref name="trainSubset"/> and <paramref name="testSubset"/> keep only the first N images of a split.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The folder or one of the four files is missing.</exception>
    /// <exception cref="InvalidDataException">A malformed file, image and label counts that differ, non-square images, or a label out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A subset larger than its split.</exception>
    public static ImageDataset Load(string name, string path, int? trainSubset = null, int? testSubset = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        var folder = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(folder)) throw new DatasetNotFoundException(DisplayName(name), folder, HowToInstall(name));
        var trainImagesPath = FindFile(name, folder, TrainImagesFile);
        var trainLabelsPath = FindFile(name, folder, TrainLabelsFile);
        var testImagesPath = FindFile(name, folder, TestImagesFile);
        var testLabelsPath = FindFile(name, folder, TestLabelsFile);

        // Every label (they are small) so that the class count does not depend on the subsets.
        var trainLabels = IdxReader.ReadLabels(trainLabelsPath);
        var testLabels = IdxReader.ReadLabels(testLabelsPath);
        int classes;
        if (KnownClasses.TryGetValue(name, out var known))
        {
            classes = known;
        }
        else
        {
            if (trainLabels.Length == 0) throw new InvalidDataException($"'{trainLabelsPath}' holds no labels.");
            classes = Math.Max(trainLabels.Max(), testLabels.Length == 0 ? (byte)0 : testLabels.Max()) + 1;
        }

        var train = ReadSplit(name, trainImagesPath, trainLabelsPath, trainLabels, classes, trainSubset);
        var test = ReadSplit(name, testImagesPath, testLabelsPath, testLabels, classes, testSubset);
        return name == FashionMnist.Name
            ? DatasetBuilder.Build(name, folder, train, test, classes, [FashionMnist.Mean], [FashionMnist.Std])
            : DatasetBuilder.Build(name, folder, train, test, classes);
    }

    /// <summary>
    /// Cheap checks for a spec's validation: the folder and the four files exist (nothing is read). Each problem names
    /// the missing path and what the folder should hold; empty when all is there.
    /// </summary>
    public static IReadOnlyList<string> Check(string name, string path)
    {
        var folder = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(folder))
            return [$"The {DisplayName(name)} folder '{folder}' does not exist: {Expected}. {HowToInstall(name)}"];
        return Files
            .Where(file => TryFindFile(folder, file) is null)
            .Select(file => $"'{System.IO.Path.Combine(folder, file)}' (or '{file}.gz') is missing: {Expected}.")
            .ToList();
    }

    /// <summary>How a set is named in messages: "Fashion-MNIST", "MNIST", "KMNIST", or the name itself.</summary>
    public static string DisplayName(string name) => name switch
    {
        FashionMnist.Name => "Fashion-MNIST",
        "mnist" => "MNIST",
        "kmnist" => "KMNIST",
        _ => name,
    };

    /// <summary>What to do about a missing folder or file.</summary>
    public static string HowToInstall(string name) => name == FashionMnist.Name
        ? FashionMnist.HowToInstall
        : $"Set trainable.dataset.path to the folder holding its idx files ({Expected}).";

    /// <summary>The path of an idx file in <paramref name="folder"/>: the gzip name if present, else the plain one.</summary>
    /// <exception cref="DatasetNotFoundException">Neither is there.</exception>
    internal static string FindFile(string name, string folder, string baseName) =>
        TryFindFile(folder, baseName)
        ?? throw new DatasetNotFoundException(DisplayName(name), System.IO.Path.Combine(folder, baseName + ".gz"), HowToInstall(name));

    private static string? TryFindFile(string folder, string baseName)
    {
        var gz = System.IO.Path.Combine(folder, baseName + ".gz");
        if (File.Exists(gz)) return gz;
        var raw = System.IO.Path.Combine(folder, baseName);
        return File.Exists(raw) ? raw : null;
    }

    private static RawSplit ReadSplit(string name, string imagesPath, string labelsPath, byte[] allLabels, int classes, int? subset)
    {
        var images = IdxReader.ReadImages(imagesPath, subset);
        if (images.FileCount != allLabels.Length)
            throw new InvalidDataException(
                $"'{imagesPath}' holds {images.FileCount} images but '{labelsPath}' holds {allLabels.Length} labels (count mismatch).");
        if (name == FashionMnist.Name && (images.Rows != FashionMnist.ImageSize || images.Columns != FashionMnist.ImageSize))
            throw new InvalidDataException(
                $"'{imagesPath}' holds {images.Rows}×{images.Columns} images; Fashion-MNIST images are {FashionMnist.ImageSize}×{FashionMnist.ImageSize}.");
        if (images.Rows != images.Columns)
            throw new InvalidDataException($"'{imagesPath}' holds {images.Rows}×{images.Columns} images; only square images are supported.");
        var labels = new long[images.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = allLabels[i];
        DatasetBuilder.CheckLabels(labels, classes, labelsPath, DisplayName(name));
        return new RawSplit(imagesPath, images.Count, Channels: 1, images.Rows, ChannelsLast: false, images.Pixels, Floats: null, labels);
    }
}
