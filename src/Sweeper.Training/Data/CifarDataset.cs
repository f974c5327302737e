namespace Sweeper.Training.Data;

/// <summary>
/// CIFAR-10 or CIFAR-100 in their binary version (<see cref="Sweeper.Core.Spec.DatasetFormats.Cifar"/>): 32×32 colour
/// images stored as records of label byte(s) followed by 3072 pixel bytes (the red, green, then blue 32×32 planes).
/// </summary>
/// <remarks>
/// <para>CIFAR-10: <c>data_batch_1.bin</c> … <c>data_batch_5.bin</c> (training, read in that order) and
/// <c>test_batch.bin</c>; records of 1 label byte + 3072 bytes; 10 classes.</para>
/// <para>CIFAR-100: <c>train.bin</c> and <c>test.bin</c>; records of 1 coarse label byte, 1 fine label byte + 3072
/// bytes; the fine labels are used (100 classes).</para>
/// <para>Which of the two a folder holds is decided by the files present (<see cref="Detect"/>). Pixels are scaled to
/// [0,1] and normalized per channel with the mean and std of the training images as loaded (the first
/// <c>train_subset</c>).</para>
/// </remarks>
public static class CifarDataset
{
    public const int ImageSize = 32;
    public const int Channels = 3;
    public const int PixelBytes = Channels * ImageSize * ImageSize;

    public static IReadOnlyList<string> Cifar10TrainFiles { get; } =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
    public const string Cifar10TestFile = "test_batch.bin";
    public const string Cifar100TrainFile = "train.bin";
    public const string Cifar100TestFile = "test.bin";

    /// <summary>What each kind of folder holds, for error messages.</summary>
    public const string Cifar10Expected = "a CIFAR-10 folder holds data_batch_1.bin … data_batch_5.bin and test_batch.bin";
    public const string Cifar100Expected = "a CIFAR-100 folder holds train.bin and test.bin";

    /// <summary>The two binary CIFAR layouts.</summary>
    public enum Kind
    {
        Cifar10,
        Cifar100,
    }

    /// <summary>
    /// The process-wide copy of the CIFAR set in <paramref name="path"/> with these subset sizes, loaded once however
    /// many trials ask at the same time. Never modify or dispose its tensors.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The folder or a file is missing (not cached: a later call tries again).</exception>
    /// <exception cref="InvalidDataException">A file is malformed (not cached either).</exception>
    public static ImageDataset GetShared(string name, string path, int? trainSubset = null, int? testSubset = null) =>
        DatasetBuilder.GetShared(Sweeper.Core.Spec.DatasetFormats.Cifar, name, path, trainSubset, testSubset,
            folder => Load(name, folder, trainSubset, testSubset));

    /// <summary>
    /// Loads the set into new tensors that the caller owns. <paramref name="trainSubset"/> and
    /// <paramref name="testSubset"/> keep only the first N images of a split (only those are read).
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The folder or one of the files of its kind is missing.</exception>
    /// <exception cref="InvalidDataException">
    /// Files of both kinds, a kind other than the name says, a file that is not a whole number of records, or a label
    /// out of range.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">A subset larger than its split.</exception>
    public static ImageDataset Load(string name, string path, int? trainSubset = null, int? testSubset = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        var folder = System.IO.Path.GetFullPath(path);
        var kind = Resolve(name, folder, out var problem);
        if (!Directory.Exists(folder)) throw new DatasetNotFoundException(DisplayName(kind), folder, HowToInstall(FilesOf(kind).Expected));
        if (problem is not null) throw new InvalidDataException(problem);
        var (trainFiles, testFiles, expected) = FilesOf(kind);
        foreach (var file in trainFiles.Concat(testFiles))
        {
            var full = System.IO.Path.Combine(folder, file);
            if (!File.Exists(full)) throw new DatasetNotFoundException(DisplayName(kind), full, HowToInstall(expected));
        }

        var train = ReadSplit(kind, folder, trainFiles, trainSubset);
        var test = ReadSplit(kind, folder, testFiles, testSubset);
        return DatasetBuilder.Build(name, folder, train, test, ClassesOf(kind));
    }

    /// <summary>
    /// Cheap checks for a spec's validation: the folder exists, holds one kind of CIFAR files (the one the name says,
    /// for <c>cifar10</c> and <c>cifar100</c>) and all of that kind's files (nothing is read). Empty when all is there.
    /// </summary>
    public static IReadOnlyList<string> Check(string name, string path)
    {
        var folder = System.IO.Path.GetFullPath(path);
        var kind = Resolve(name, folder, out var problem);
        if (problem is not null) return [problem];
        var (trainFiles, testFiles, expected) = FilesOf(kind);
        return trainFiles.Concat(testFiles)
            .Select(file => System.IO.Path.Combine(folder, file))
            .Where(full => !File.Exists(full))
            .Select(full => $"'{full}' is missing: {expected}.")
            .ToList();
    }

    /// <summary>
    /// The kind of CIFAR files in <paramref name="folder"/>: CIFAR-10 when any of its files is there, CIFAR-100 when any
    /// of its files is; null when neither (or the folder does not exist) or both.
    /// </summary>
    public static Kind? Detect(string folder)
    {
        bool has10 = Has10(folder), has100 = Has100(folder);
        return has10 == has100 ? null : has10 ? Kind.Cifar10 : Kind.Cifar100;
    }

    private static bool Has10(string folder) =>
        Cifar10TrainFiles.Append(Cifar10TestFile).Any(f => File.Exists(System.IO.Path.Combine(folder, f)));

    private static bool Has100(string folder) =>
        File.Exists(System.IO.Path.Combine(folder, Cifar100TrainFile)) || File.Exists(System.IO.Path.Combine(folder, Cifar100TestFile));

    /// <summary>The kind to read: the files' (or, with none there, the name's); a problem when that cannot be decided.</summary>
    private static Kind Resolve(string name, string folder, out string? problem)
    {
        problem = null;
        Kind? byName = name switch { "cifar10" => Kind.Cifar10, "cifar100" => Kind.Cifar100, _ => null };
        if (!Directory.Exists(folder))
        {
            problem = $"The {name} folder '{folder}' does not exist: {(byName == Kind.Cifar100 ? Cifar100Expected : byName == Kind.Cifar10 ? Cifar10Expected : $"{Cifar10Expected}; {Cifar100Expected}")}. Set trainable.dataset.path to the folder holding the binary batches.";
            return byName ?? Kind.Cifar10;
        }
        bool has10 = Has10(folder), has100 = Has100(folder);
        if (has10 && has100)
        {
            problem = $"'{folder}' holds both CIFAR-10 files (data_batch_*.bin, test_batch.bin) and CIFAR-100 files (train.bin, test.bin); keep one kind per folder.";
            return Kind.Cifar10;
        }
        Kind? byFiles = has10 ? Kind.Cifar10 : has100 ? Kind.Cifar100 : null;
        if (byFiles is { } found && byName is { } named && found != named)
        {
            problem = $"trainable.dataset.name is {name}, but '{folder}' holds {DisplayName(found)} files ({(found == Kind.Cifar10 ? Cifar10Expected : Cifar100Expected)}).";
            return found;
        }
        return byFiles ?? byName ?? Kind.Cifar10;
    }

    private static (IReadOnlyList<string> Train, IReadOnlyList<string> Test, string Expected) FilesOf(Kind kind) => kind == Kind.Cifar10
        ? (Cifar10TrainFiles, [Cifar10TestFile], Cifar10Expected)
        : ([Cifar100TrainFile], [Cifar100TestFile], Cifar100Expected);

    private static int ClassesOf(Kind kind) => kind == Kind.Cifar10 ? 10 : 100;

    private static string DisplayName(Kind kind) => kind == Kind.Cifar10 ? "CIFAR-10" : "CIFAR-100";

    private static string HowToInstall(string expected) =>
        $"{char.ToUpperInvariant(expected[0])}{expected[1..]} (the binary version); set trainable.dataset.path to that folder.";

    private static RawSplit ReadSplit(Kind kind, string folder, IReadOnlyList<string> files, int? subset)
    {
        int labelBytes = kind == Kind.Cifar10 ? 1 : 2;
        int recordBytes = labelBytes + PixelBytes;
        int classes = ClassesOf(kind);
        var paths = files.Select(f => System.IO.Path.Combine(folder, f)).ToArray();
        var records = new int[paths.Length];
        long total = 0;
        for (int i = 0; i < paths.Length; i++)
        {
            long length = new FileInfo(paths[i]).Length;
            if (length % recordBytes != 0)
                throw new InvalidDataException(
                    $"'{paths[i]}' is truncated or not a {DisplayName(kind)} batch: its {length} bytes are not a whole number of {recordBytes}-byte records ({labelBytes} label byte{(labelBytes == 1 ? "" : "s")} + {PixelBytes} pixel bytes).");
            records[i] = (int)Math.Min(int.MaxValue, length / recordBytes);
            total += length / recordBytes;
        }
        var description = paths.Length == 1 ? paths[0] : $"{paths[0]} … {System.IO.Path.GetFileName(paths[^1])}";
        if ((long)total * PixelBytes > Array.MaxLength)
            throw new InvalidDataException($"'{description}' hold {total} images, more than one array can hold.");
        int take = DatasetBuilder.Take((int)total, subset, description);

        var pixels = new byte[(long)take * PixelBytes];
        var labels = new long[take];
        var record = new byte[recordBytes];
        int n = 0;
        for (int f = 0; f < paths.Length && n < take; f++)
        {
            using var stream = new FileStream(paths[f], FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
            for (int r = 0; r < records[f] && n < take; r++, n++)
            {
                stream.ReadExactly(record);
                long label = record[labelBytes - 1]; // CIFAR-100: the fine label, after the coarse one
                if (label >= classes)
                    throw new InvalidDataException(
                        $"'{paths[f]}' holds label {label} in record {r}; {DisplayName(kind)} labels are 0..{classes - 1} (label out of range).");
                labels[n] = label;
                record.AsSpan(labelBytes).CopyTo(pixels.AsSpan(n * PixelBytes, PixelBytes));
            }
        }
        return new RawSplit(description, take, Channels, ImageSize, ChannelsLast: false, pixels, Floats: null, labels);
    }
}
