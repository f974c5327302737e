namespace Sweeper.Training.Data;

/// <summary>
/// A data set saved as NumPy arrays (<see cref="Sweeper.Core.Spec.DatasetFormats.Npy"/>): <c>x_train.npy</c>,
/// <c>y_train.npy</c>, <c>x_test.npy</c> and <c>y_test.npy</c> in one folder (<see cref="NpyReader"/>).
/// </summary>
/// <remarks>
/// <para>Images: <c>u1</c> (scaled by 1/255), <c>f4</c> or <c>f8</c> (taken as they are), square, shaped N×H×W (grey),
/// N×H×W×C (channels last) or N×C×H×W with C 1 or 3. A 4-d shape is read as channels last when its last axis is 1 or
/// 3, as channels first when its second axis is; when both are, the reading that gives square images wins, and if
/// both do the shape is refused as ambiguous.</para>
/// <para>Labels: integers (any of i1…i8, u1…u8), shaped N or N×1, ≥ 0; classes = the largest label of both files
/// plus one (at most <see cref="MaxClasses"/>).</para>
/// <para>Pixels are normalized per channel with the mean and std of the training images as loaded (the first
/// <c>train_subset</c>).</para>
/// </remarks>
public static class NpyDataset
{
    public const string TrainImagesFile = "x_train.npy";
    public const string TrainLabelsFile = "y_train.npy";
    public const string TestImagesFile = "x_test.npy";
    public const string TestLabelsFile = "y_test.npy";

    /// <summary>The largest class count accepted (a larger label is taken for a mistake, not a class).</summary>
    public const int MaxClasses = 100_000;

    /// <summary>The four files of an npy folder.</summary>
    public static IReadOnlyList<string> Files { get; } = [TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile];

    /// <summary>What an npy folder holds, for error messages.</summary>
    public const string Expected = "an npy folder holds x_train.npy, y_train.npy, x_test.npy and y_test.npy";

    /// <summary>
    /// The process-wide copy of the set in <paramref name="path"/> with these subset sizes, loaded once however many
    /// trials ask at the same time. Never modify or dispose its tensors.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The folder or a file is missing (not cached: a later call tries again).</exception>
    /// <exception cref="InvalidDataException">A file is malformed (not cached either).</exception>
    public static ImageDataset GetShared(string name, string path, int? trainSubset = null, int? testSubset = null) =>
        DatasetBuilder.GetShared(Sweeper.Core.Spec.DatasetFormats.Npy, name, path, trainSubset, testSubset,
            folder => Load(name, folder, trainSubset, testSubset));

    /// <summary>
    /// Loads the set into new tensors that the caller owns. <paramref name="trainSubset"/> and
    /// <paramref name="testSubset"/> keep only the first N images of a split (only those are read).
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The folder or one of the four files is missing.</exception>
    /// <exception cref="InvalidDataException">
    /// A malformed file, an unsupported type or shape, non-square or ambiguous images, image and label counts that differ,
    /// a negative label, or training and test images of different shapes.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">A subset larger than its split.</exception>
    public static ImageDataset Load(string name, string path, int? trainSubset = null, int? testSubset = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        var folder = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(folder)) throw new DatasetNotFoundException(name, folder, HowToInstall);
        string File(string file)
        {
            var full = System.IO.Path.Combine(folder, file);
            return System.IO.File.Exists(full) ? full : throw new DatasetNotFoundException(name, full, HowToInstall);
        }
        var trainImages = NpyReader.ReadHeader(File(TrainImagesFile));
        var trainLabelsHeader = NpyReader.ReadHeader(File(TrainLabelsFile));
        var testImages = NpyReader.ReadHeader(File(TestImagesFile));
        var testLabelsHeader = NpyReader.ReadHeader(File(TestLabelsFile));

        var trainLabels = ReadLabels(trainLabelsHeader);
        var testLabels = ReadLabels(testLabelsHeader);
        if (trainLabels.Length == 0) throw new InvalidDataException($"'{trainLabelsHeader.Path}' holds no labels.");
        long max = Math.Max(trainLabels.Max(), testLabels.Length == 0 ? 0 : testLabels.Max());
        if (max >= MaxClasses)
            throw new InvalidDataException(
                $"'{(trainLabels.Max() == max ? trainLabelsHeader.Path : testLabelsHeader.Path)}' holds label {max}; labels are class indices below {MaxClasses}.");
        int classes = (int)max + 1;

        var train = ReadSplit(trainImages, trainLabelsHeader.Path, trainLabels, trainSubset);
        var test = ReadSplit(testImages, testLabelsHeader.Path, testLabels, testSubset);
        return DatasetBuilder.Build(name, folder, train, test, classes);
    }

    /// <summary>
    /// Cheap checks for a spec's validation: the folder and the four files exist (nothing is read). Empty when all is there.
    /// </summary>
    public static IReadOnlyList<string> Check(string name, string path)
    {
        var folder = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(folder)) return [$"The {name} folder '{folder}' does not exist: {Expected}."];
        return Files
            .Select(file => System.IO.Path.Combine(folder, file))
            .Where(full => !File.Exists(full))
            .Select(full => $"'{full}' is missing: {Expected}.")
            .ToList();
    }

    private const string HowToInstall = "Set trainable.dataset.path to the folder holding x_train.npy, y_train.npy, x_test.npy and y_test.npy.";

    /// <summary>The image layout a shape describes: count, channels, side, and whether channels come last.</summary>
    internal static (int Count, int Channels, int Size, bool ChannelsLast) Layout(NpyHeader header)
    {
        var s = header.Shape;
        string path = header.Path, shape = header.ShapeText;
        long n, c, h, w;
        bool last;
        if (s.Count == 3)
        {
            (n, c, h, w, last) = (s[0], 1, s[1], s[2], false);
        }
        else if (s.Count == 4)
        {
            bool hwc = s[3] is 1 or 3, chw = s[1] is 1 or 3;
            if (hwc && chw)
            {
                bool hwcSquare = s[1] == s[2], chwSquare = s[2] == s[3];
                if (hwcSquare == chwSquare)
                    throw new InvalidDataException(
                        $"'{path}' has shape {shape}: ambiguous, it could be N×H×W×C (channels last) or N×C×H×W (channels first); save the images with their channel axis unambiguous (e.g. 32×32×3 or 3×32×32).");
                hwc = hwcSquare;
                chw = chwSquare;
            }
            if (hwc) (n, c, h, w, last) = (s[0], s[3], s[1], s[2], true);
            else if (chw) (n, c, h, w, last) = (s[0], s[1], s[2], s[3], false);
            else
                throw new InvalidDataException(
                    $"'{path}' has shape {shape}: neither its second nor its last axis is 1 or 3 channels (images are N×H×W, N×H×W×C or N×C×H×W with C 1 or 3).");
        }
        else
        {
            throw new InvalidDataException(
                $"'{path}' has shape {shape}: images must be N×H×W (grey), N×H×W×C or N×C×H×W (C 1 or 3).");
        }
        if (h != w) throw new InvalidDataException($"'{path}' has shape {shape}: its images are {h}×{w}; only square images are supported.");
        if (h == 0) throw new InvalidDataException($"'{path}' has shape {shape}: its images are empty.");
        if (n > int.MaxValue) throw new InvalidDataException($"'{path}' has shape {shape}: too many images.");
        return ((int)n, (int)c, (int)h, last);
    }

    private static long[] ReadLabels(NpyHeader header)
    {
        if (header.Kind is not ('i' or 'u'))
            throw new InvalidDataException($"'{header.Path}' holds '{header.Descr}'; labels must be integers (i1…i8 or u1…u8).");
        if (!(header.Shape.Count == 1 || (header.Shape.Count == 2 && header.Shape[1] == 1)))
            throw new InvalidDataException($"'{header.Path}' has shape {header.ShapeText}; labels must be shaped (N,) or (N, 1).");
        var labels = NpyReader.ReadIntegers(header);
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0)
                throw new InvalidDataException($"'{header.Path}' holds label {labels[i]} at index {i}; labels must be ≥ 0 (label out of range).");
        }
        return labels;
    }

    private static RawSplit ReadSplit(NpyHeader images, string labelsPath, long[] allLabels, int? subset)
    {
        if (!(images.Kind == 'u' && images.ItemSize == 1) && !(images.Kind == 'f' && images.ItemSize is 4 or 8))
            throw new InvalidDataException($"'{images.Path}' holds '{images.Descr}'; images must be u1 (bytes, scaled by 1/255), f4 or f8.");
        var (count, channels, size, last) = Layout(images);
        if (count != allLabels.Length)
            throw new InvalidDataException(
                $"'{images.Path}' holds {count} images but '{labelsPath}' holds {allLabels.Length} labels (count mismatch).");
        int take = DatasetBuilder.Take(count, subset, images.Path);
        long elements = (long)take * channels * size * size;
        var labels = allLabels[..take];
        return images.Kind == 'u'
            ? new RawSplit(images.Path, take, channels, size, last, NpyReader.ReadBytes(images, elements), Floats: null, labels)
            : new RawSplit(images.Path, take, channels, size, last, Bytes: null, NpyReader.ReadFloats(images, elements), labels);
    }
}
