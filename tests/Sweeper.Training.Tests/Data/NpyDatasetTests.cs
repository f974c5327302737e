using Sweeper.Core.Spec;
using Sweeper.Training.Data;
using TorchSharp;

namespace Sweeper.Training.Tests.Data;

public sealed class NpyDatasetTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    private string Write(string name, byte[] bytes)
    {
        var path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Value of image n, channel c, row y, column x: distinct everywhere.</summary>
    private static byte Value(int n, int c, int y, int x) => (byte)(n * 50 + c * 16 + y * 4 + x);

    /// <summary>u1 images of 4×4 with <paramref name="channels"/> channels in the given layout, and i8 labels.</summary>
    private void WriteBytes(string layout, int channels, int trainCount = 3, int testCount = 2, long[]? trainLabels = null, long[]? testLabels = null)
    {
        byte[] Images(int count) => layout switch
        {
            "hw" => Enumerable.Range(0, count).SelectMany(n => Grid(n, (y, x) => [Value(n, 0, y, x)])).ToArray(),
            "hwc" => Enumerable.Range(0, count).SelectMany(n => Grid(n, (y, x) => Enumerable.Range(0, channels).Select(c => Value(n, c, y, x)))).ToArray(),
            _ => Enumerable.Range(0, count).SelectMany(n => Enumerable.Range(0, channels).SelectMany(c => Grid(n, (y, x) => [Value(n, c, y, x)]))).ToArray(),
        };
        long[] Shape(int count) => layout switch
        {
            "hw" => [count, 4, 4],
            "hwc" => [count, 4, 4, channels],
            _ => [count, channels, 4, 4],
        };
        Write("x_train.npy", DataFiles.Npy("|u1", Shape(trainCount), Images(trainCount)));
        Write("x_test.npy", DataFiles.Npy("|u1", Shape(testCount), Images(testCount)));
        trainLabels ??= Enumerable.Range(0, trainCount).Select(i => (long)(i % 5)).ToArray();
        testLabels ??= Enumerable.Range(0, testCount).Select(i => (long)(4 - i)).ToArray();
        Write("y_train.npy", DataFiles.Npy("<i8", [trainLabels.Length], DataFiles.Int64s(trainLabels)));
        Write("y_test.npy", DataFiles.Npy("<i8", [testLabels.Length], DataFiles.Int64s(testLabels)));

        static IEnumerable<byte> Grid(int n, Func<int, int, IEnumerable<byte>> at) =>
            Enumerable.Range(0, 4).SelectMany(y => Enumerable.Range(0, 4).SelectMany(x => at(y, x)));
    }

    /// <summary>Pixel (n, c, y, x) of a split, de-normalized back to the raw value ×255.</summary>
    private static double RawByte(ImageDataset data, ImageSplit split, int n, int c, int y, int x) =>
        (split.Images[n, c, y, x].item<float>() * data.Std[c] + data.Mean[c]) * 255;

    [Theory]
    [InlineData("hwc", 3)]
    [InlineData("chw", 3)]
    [InlineData("hwc", 1)]
    [InlineData("chw", 1)]
    [InlineData("hw", 1)]
    public void Load_ByteImagesInEveryLayout_ReturnsTheSameChwPixels(string layout, int channels)
    {
        WriteBytes(layout, channels);

        var data = NpyDataset.Load("mine", dir.Path);

        Assert.Equal((channels, 4, 5), (data.Channels, data.ImageSize, data.Classes)); // labels 0..4
        Assert.Equal(new long[] { 3, channels, 4, 4 }, data.Train.Images.shape);
        Assert.Equal(new long[] { 0, 1, 2 }, data.Train.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 4, 3 }, data.Test.Labels.data<long>().ToArray());
        using var scope = torch.NewDisposeScope();
        for (int n = 0; n < 3; n++)
            for (int c = 0; c < channels; c++)
                for (int y = 0; y < 4; y++)
                    for (int x = 0; x < 4; x++)
                        Assert.Equal(Value(n, c, y, x), RawByte(data, data.Train, n, c, y, x), 3);
        Assert.Equal(Value(1, channels - 1, 3, 2), RawByte(data, data.Test, 1, channels - 1, 3, 2), 3);
        // Per-channel statistics of the training images (bytes / 255).
        var values = Enumerable.Range(0, 3).SelectMany(n => Enumerable.Range(0, 16).Select(i => Value(n, channels - 1, i / 4, i % 4) / 255.0));
        var (mean, std) = DataFiles.Stats(values);
        Assert.Equal(mean, data.Mean[channels - 1], 5);
        Assert.Equal(std, data.Std[channels - 1], 5);
    }

    [Fact]
    public void Load_FloatImages_TakesValuesAsTheyAreThenNormalizes()
    {
        // f4 N×H×W×C with two channels of clearly different scale; f8 test images.
        var train = Enumerable.Range(0, 2 * 2 * 2 * 3).Select(i => i % 3 == 0 ? i * 10f : -i * 0.5f).ToArray();
        Write("x_train.npy", DataFiles.Npy("<f4", [2, 2, 2, 3], DataFiles.Floats(train)));
        Write("x_test.npy", DataFiles.Npy("<f8", [1, 2, 2, 3], DataFiles.Doubles(Enumerable.Range(0, 12).Select(i => i + 0.25))));
        Write("y_train.npy", DataFiles.Npy("|u1", [2, 1], [1, 0]));
        Write("y_test.npy", DataFiles.Npy("<i2", [1], [2, 0]));

        var data = NpyDataset.Load("floats", dir.Path);

        Assert.Equal((3, 2, 3), (data.Channels, data.ImageSize, data.Classes));
        var (mean0, std0) = DataFiles.Stats(train.Where((_, i) => i % 3 == 0).Select(v => (double)v));
        Assert.Equal(mean0, data.Mean[0], 3);
        Assert.Equal(std0, data.Std[0], 3);
        // Image 1, channel 0, row 1, column 0 is train[((1*2+1)*2+0)*3 + 0] = train[18] = 180.
        Assert.Equal(180f, data.Train.Images[1, 0, 1, 0].item<float>() * data.Std[0] + data.Mean[0], 2);
        Assert.Equal(-0.5f * 19, data.Train.Images[1, 1, 1, 0].item<float>() * data.Std[1] + data.Mean[1], 3);
        Assert.Equal(4.25f, data.Test.Images[0, 1, 0, 1].item<float>() * data.Std[1] + data.Mean[1], 3);
        Assert.Equal(new long[] { 1, 0 }, data.Train.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 2 }, data.Test.Labels.data<long>().ToArray());
    }

    [Fact]
    public void Load_Subsets_KeepTheFirstImages()
    {
        WriteBytes("hwc", 3, trainCount: 6, testCount: 4);

        var data = NpyDataset.Load("mine", dir.Path, trainSubset: 2, testSubset: 3);

        Assert.Equal((2, 3), (data.Train.Count, data.Test.Count));
        Assert.Equal(Value(1, 2, 3, 3), RawByte(data, data.Train, 1, 2, 3, 3), 3);
        Assert.Equal(5, data.Classes); // from every label of both files, not only the first two
        Assert.Throws<ArgumentOutOfRangeException>(() => NpyDataset.Load("mine", dir.Path, testSubset: 5));
    }

    [Fact]
    public void Load_FormatVersion2Header_Reads()
    {
        WriteBytes("hw", 1);
        Write("x_train.npy", DataFiles.Npy("|u1", [3, 4, 4], Enumerable.Range(0, 48).Select(i => (byte)i).ToArray(), major: 2));

        var data = NpyDataset.Load("mine", dir.Path);

        Assert.Equal(47, RawByte(data, data.Train, 2, 0, 3, 3), 3);
    }

    [Fact]
    public void Load_ThroughTheFactoryWithValidation_SplitsDisjointly()
    {
        WriteBytes("chw", 3, trainCount: 8, trainLabels: Enumerable.Range(0, 8).Select(i => (long)i).ToArray());
        var spec = new DatasetSpec { Name = "mine", Format = DatasetFormats.Npy, Path = dir.Path, Validation = 0.25, SplitSeed = 9 };

        var data = DatasetFactory.GetShared(spec);

        Assert.Equal((6, 2, 8), (data.Train.Count, data.Validation!.Count, data.Classes));
        var train = data.Train.Labels.data<long>().ToArray();
        var validation = data.Validation.Labels.data<long>().ToArray();
        Assert.Empty(train.Intersect(validation));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), train.Concat(validation).Order());
    }

    [Fact]
    public void Check_MissingFolderAndFiles_NamesEachPath()
    {
        var missing = dir.File("none");
        WriteBytes("hw", 1);
        File.Delete(dir.File("y_test.npy"));

        var noFolder = DatasetFactory.Check(new DatasetSpec { Name = "mine", Format = "npy", Path = missing });
        var noFile = DatasetFactory.Check(new DatasetSpec { Name = "mine", Format = "npy", Path = dir.Path });

        Assert.Contains(missing, Assert.Single(noFolder));
        Assert.Equal($"'{dir.File("y_test.npy")}' is missing: an npy folder holds x_train.npy, y_train.npy, x_test.npy and y_test.npy.", Assert.Single(noFile));
        var e = Assert.Throws<DatasetNotFoundException>(() => NpyDataset.Load("mine", dir.Path));
        Assert.Contains(dir.File("y_test.npy"), e.Message);
    }

    [Fact]
    public void Load_NoMagic_ThrowsInvalidDataNamingTheFile()
    {
        WriteBytes("hw", 1);
        var path = Write("x_test.npy", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

        var e = Assert.Throws<InvalidDataException>(() => NpyDataset.Load("mine", dir.Path));

        Assert.Contains(path, e.Message);
        Assert.Contains("magic", e.Message);
    }

    [Theory]
    [InlineData("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 4, 4)", "misses ','")]
    [InlineData("{'descr': '|u1', 'fortran_order': False}", "'shape'")]
    [InlineData("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 4, 4), }", "not supported")]
    [InlineData("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 4, 4), }", "big-endian")]
    [InlineData("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured")]
    [InlineData("{'descr': '|u1', 'fortran_order': Maybe, 'shape': (2, 4, 4), }", "unexpected")]
    public void ReadHeader_BadHeader_ThrowsInvalidDataSayingWhat(string dict, string expected)
    {
        var path = Write("bad.npy", DataFiles.NpyWithHeader(dict, new byte[32]));

        var e = Assert.Throws<InvalidDataException>(() => NpyReader.ReadHeader(path));

        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ReadHeader_FortranOrder_ThrowsInvalidDataAskingForCOrder()
    {
        var path = Write("f.npy", DataFiles.Npy("|u1", [2, 4, 4], new byte[32], fortran: true));

        var e = Assert.Throws<InvalidDataException>(() => NpyReader.ReadHeader(path));

        Assert.Contains(path, e.Message);
        Assert.Contains("Fortran", e.Message);
        Assert.Contains("C order", e.Message);
    }

    [Fact]
    public void ReadHeader_HostileShape_ThrowsTruncatedWithoutAllocating()
    {
        // Claims 2^31 images of 28×28 floats; the file holds 16 bytes of data.
        var path = Write("huge.npy", DataFiles.Npy("<f4", [1L << 31, 28, 28], new byte[16]));
        long before = GC.GetAllocatedBytesForCurrentThread();

        var e = Assert.Throws<InvalidDataException>(() => NpyReader.ReadHeader(path));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "no large allocation");
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void ReadHeader_HostileHeaderLength_ThrowsWithoutAllocating()
    {
        var bytes = DataFiles.Npy("|u1", [1], [0], major: 2);
        bytes[8] = 0xff; bytes[9] = 0xff; bytes[10] = 0xff; bytes[11] = 0x7f; // header length 2^31 - 1
        var path = Write("huge-header.npy", bytes);

        var e = Assert.Throws<InvalidDataException>(() => NpyReader.ReadHeader(path));

        Assert.Contains(path, e.Message);
        Assert.Contains("header", e.Message);
    }

    [Theory]
    [InlineData(-1, "truncated")]
    [InlineData(+1, "count mismatch")]
    public void ReadHeader_DataLengthDiffersFromShape_ThrowsInvalidData(int extra, string expected)
    {
        var path = Write("x.npy", DataFiles.Npy("|u1", [2, 4, 4], new byte[32 + extra]));

        var e = Assert.Throws<InvalidDataException>(() => NpyReader.ReadHeader(path));

        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Load_ImageAndLabelCountsDiffer_ThrowsInvalidDataNamingBothFiles()
    {
        WriteBytes("hw", 1, trainCount: 3, trainLabels: [0, 1]);

        var e = Assert.Throws<InvalidDataException>(() => NpyDataset.Load("mine", dir.Path));

        Assert.Contains(dir.File("x_train.npy"), e.Message);
        Assert.Contains(dir.File("y_train.npy"), e.Message);
        Assert.Contains("count mismatch", e.Message);
    }

    [Fact]
    public void Load_NegativeLabel_ThrowsInvalidDataNamingFileAndIndex()
    {
        WriteBytes("hw", 1, testLabels: [1, -3]);

        var e = Assert.Throws<InvalidDataException>(() => NpyDataset.Load("mine", dir.Path));

        Assert.Contains(dir.File("y_test.npy"), e.Message);
        Assert.Contains("-3 at index 1", e.Message);
    }

    [Theory]
    [InlineData(new long[] { 2, 3, 3, 3 }, "ambiguous")]
    [InlineData(new long[] { 2, 4, 5 }, "square")]
    [InlineData(new long[] { 2, 4, 4, 5 }, "neither")]
    [InlineData(new long[] { 2, 3, 4, 5 }, "square")]
    [InlineData(new long[] { 2, 16 }, "N×H×W")]
    public void Load_UnsupportedImageShape_ThrowsInvalidDataSayingWhy(long[] shape, string expected)
    {
        WriteBytes("hw", 1, trainCount: 2);
        var path = Write("x_train.npy", DataFiles.Npy("|u1", shape, new byte[shape.Aggregate(1L, (a, b) => a * b)]));

        var e = Assert.Throws<InvalidDataException>(() => NpyDataset.Load("mine", dir.Path));

        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Load_FloatLabels_ThrowsInvalidData()
    {
        WriteBytes("hw", 1);
        Write("y_train.npy", DataFiles.Npy("<f4", [3], DataFiles.Floats([0, 1, 2])));

        var e = Assert.Throws<InvalidDataException>(() => NpyDataset.Load("mine", dir.Path));

        Assert.Contains(dir.File("y_train.npy"), e.Message);
        Assert.Contains("integers", e.Message);
    }
}
