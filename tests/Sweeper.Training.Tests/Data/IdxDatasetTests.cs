using Sweeper.Core.Spec;
using Sweeper.Training.Data;
using TorchSharp;

namespace Sweeper.Training.Tests.Data;

public sealed class IdxDatasetTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    private static byte Pixel(int i) => (byte)(i * 7 % 256);

    private void WriteSet(bool gzip, byte[] trainLabels, byte[] testLabels, int side = 4)
    {
        void Write(string name, byte[] bytes) =>
            File.WriteAllBytes(dir.File(gzip ? name + ".gz" : name), gzip ? IdxFiles.Gzip(bytes) : bytes);
        Write("train-images-idx3-ubyte", IdxFiles.Images(trainLabels.Length, side, side, Pixel));
        Write("train-labels-idx1-ubyte", IdxFiles.Labels(trainLabels));
        Write("t10k-images-idx3-ubyte", IdxFiles.Images(testLabels.Length, side, side, i => (byte)(255 - Pixel(i))));
        Write("t10k-labels-idx1-ubyte", IdxFiles.Labels(testLabels));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Load_Mnist_NormalizesWithTheTrainingImagesOwnMeanAndStd(bool gzip)
    {
        WriteSet(gzip, [3, 1, 4], [1, 5]);

        var data = IdxDataset.Load("mnist", dir.Path);

        var (mean, std) = DataFiles.Stats(Enumerable.Range(0, 48).Select(i => Pixel(i) / 255.0));
        Assert.Equal((1, 4, 10), (data.Channels, data.ImageSize, data.Classes));
        Assert.Equal(mean, data.Mean[0], 6);
        Assert.Equal((float)std, data.Std[0], 6);
        Assert.Equal(new long[] { 3, 1, 4 }, data.Train.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 5 }, data.Test.Labels.data<long>().ToArray());
        // Train image 2, row 1, column 3 is pixel 2*16 + 1*4 + 3 = 39; test image 1, row 0, column 0 is 255 - pixel 16.
        Assert.Equal((float)((Pixel(39) / 255.0 - mean) / std), data.Train.Images[2, 0, 1, 3].item<float>(), 5);
        Assert.Equal((float)(((255 - Pixel(16)) / 255.0 - mean) / std), data.Test.Images[1, 0, 0, 0].item<float>(), 5);
        Assert.Equal(-mean / std, data.ZeroPixelValues[0], 5);
    }

    [Fact]
    public void Load_OtherName_ClassesAreTheLargestLabelOfBothFilesPlusOne()
    {
        WriteSet(gzip: false, [0, 2, 1], [6, 0]);

        var data = IdxDataset.Load("letters", dir.Path, trainSubset: 2, testSubset: 1);

        Assert.Equal(7, data.Classes); // label 6 is in the test file, beyond the subset
        Assert.Equal((2, 1), (data.Train.Count, data.Test.Count));
    }

    [Fact]
    public void Load_KnownSetWithLabel10_ThrowsLabelOutOfRange()
    {
        WriteSet(gzip: false, [0, 10], [1]);

        var e = Assert.Throws<InvalidDataException>(() => IdxDataset.Load("kmnist", dir.Path));

        Assert.Contains(dir.File("train-labels-idx1-ubyte"), e.Message);
        Assert.Contains("label 10", e.Message);
        Assert.Contains("KMNIST", e.Message);
    }

    [Fact]
    public void Load_NonSquareImages_ThrowsInvalidData()
    {
        WriteSet(gzip: false, [0], [0]);
        File.WriteAllBytes(dir.File("t10k-images-idx3-ubyte"), IdxFiles.Images(1, 4, 5));

        var e = Assert.Throws<InvalidDataException>(() => IdxDataset.Load("mnist", dir.Path));

        Assert.Contains(dir.File("t10k-images-idx3-ubyte"), e.Message);
        Assert.Contains("square", e.Message);
    }

    [Fact]
    public void Load_TrainAndTestSidesDiffer_ThrowsInvalidDataNamingBoth()
    {
        WriteSet(gzip: false, [0], [0]);
        File.WriteAllBytes(dir.File("t10k-images-idx3-ubyte"), IdxFiles.Images(1, 6, 6));

        var e = Assert.Throws<InvalidDataException>(() => IdxDataset.Load("mnist", dir.Path));

        Assert.Contains(dir.File("t10k-images-idx3-ubyte"), e.Message);
        Assert.Contains(dir.File("train-images-idx3-ubyte"), e.Message);
    }

    [Fact]
    public void DatasetFactory_MnistName_DispatchesToIdxAndShares()
    {
        WriteSet(gzip: true, [3, 1, 4, 1], [5]);
        var spec = new DatasetSpec { Name = "mnist", Path = dir.Path };

        var data = DatasetFactory.GetShared(spec);

        Assert.Same(data, IdxDataset.GetShared("mnist", dir.Path));
        Assert.Equal("mnist", data.Name);
        Assert.NotSame(data, DatasetFactory.GetShared(spec with { Name = "kmnist" }));
        Assert.Empty(DatasetFactory.Check(spec));
    }

    [Fact]
    public void Check_MissingFilesAndFolder_NamesEachFullPath()
    {
        WriteSet(gzip: true, [1], [1]);
        File.Delete(dir.File("train-labels-idx1-ubyte.gz"));
        File.Delete(dir.File("t10k-images-idx3-ubyte.gz"));
        var missing = dir.File("absent");

        var problems = DatasetFactory.Check(new DatasetSpec { Name = "mnist", Path = dir.Path });
        var noFolder = DatasetFactory.Check(new DatasetSpec { Name = "fashion_mnist", Path = missing });

        Assert.Equal(2, problems.Count);
        Assert.StartsWith($"'{dir.File("train-labels-idx1-ubyte")}' (or 'train-labels-idx1-ubyte.gz') is missing: an idx folder holds", problems[0]);
        Assert.StartsWith($"'{dir.File("t10k-images-idx3-ubyte")}'", problems[1]);
        Assert.Contains(missing, Assert.Single(noFolder));
        Assert.Contains("apt-get install dataset-fashion-mnist", noFolder[0]);
    }

    [Theory]
    [InlineData(null, "imagenet", "Unknown data set 'imagenet'")]
    [InlineData("parquet", "mine", "Unknown data set format 'parquet'")]
    public void Check_UnknownNameOrFormat_ReportsIt(string? format, string name, string expected)
    {
        var spec = new DatasetSpec { Name = name, Format = format, Path = dir.Path };

        Assert.Contains(expected, Assert.Single(DatasetFactory.Check(spec)));
        Assert.Throws<ArgumentException>(() => DatasetFactory.GetShared(spec));
    }

    [Fact]
    public void DatasetFactory_ExplicitFormatWinsOverTheKnownName()
    {
        // A folder of npy files named like a known idx set: the format given decides.
        File.WriteAllBytes(dir.File("x_train.npy"), DataFiles.Npy("|u1", [2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]));
        File.WriteAllBytes(dir.File("y_train.npy"), DataFiles.Npy("|u1", [2], [0, 1]));
        File.WriteAllBytes(dir.File("x_test.npy"), DataFiles.Npy("|u1", [1, 2, 2], [9, 9, 9, 9]));
        File.WriteAllBytes(dir.File("y_test.npy"), DataFiles.Npy("|u1", [1], [1]));

        var data = DatasetFactory.GetShared(new DatasetSpec { Name = "mnist", Format = DatasetFormats.Npy, Path = dir.Path });

        Assert.Equal((2, 2, 2), (data.Train.Count, data.ImageSize, data.Classes));
        Assert.NotEmpty(DatasetFactory.Check(new DatasetSpec { Name = "mnist", Path = dir.Path }));
    }
}
