using Sweeper.Core.Spec;
using Sweeper.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Data;

public sealed class FashionMnistTests
{
    private const string RealPath = FashionMnist.DefaultPath;

    [Fact]
    public void Load_RealFolderWithSubsets_ReturnsNormalizedTensorsOfSubsetSize()
    {
        var data = FashionMnist.Load(RealPath, trainSubset: 1000, testSubset: 300);

        Assert.Equal(new long[] { 1000, 1, 28, 28 }, data.Train.Images.shape);
        Assert.Equal(new long[] { 1000 }, data.Train.Labels.shape);
        Assert.Equal(new long[] { 300, 1, 28, 28 }, data.Test.Images.shape);
        Assert.Equal(ScalarType.Float32, data.Train.Images.dtype);
        Assert.Equal(ScalarType.Int64, data.Train.Labels.dtype);
        Assert.Equal((1, 10), (data.Channels, data.Classes));
        // Labels cover 0..9; pixels are normalized with the data set's mean and std.
        Assert.Equal(0, data.Train.Labels.min().item<long>());
        Assert.Equal(9, data.Train.Labels.max().item<long>());
        Assert.Equal(10, data.Train.Labels.unique().Item1.shape[0]);
        Assert.InRange(data.Train.Images.mean().item<float>(), -0.1f, 0.1f);
        Assert.InRange(data.Train.Images.std().item<float>(), 0.9f, 1.1f);
        Assert.Equal(-FashionMnist.Mean / FashionMnist.Std, data.Train.Images.min().item<float>(), 4);
    }

    [Fact]
    public void Load_NoTestSubset_ReturnsWholeTestSplit()
    {
        var data = FashionMnist.Load(RealPath, trainSubset: 10, testSubset: null);

        Assert.Equal(10, data.Train.Count);
        Assert.Equal(10_000, data.Test.Count);
        Assert.InRange(data.Test.Labels.min().item<long>(), 0, 0);
        Assert.InRange(data.Test.Labels.max().item<long>(), 9, 9);
    }

    [Fact]
    public void Load_SubsetLargerThanSplit_ThrowsArgumentOutOfRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FashionMnist.Load(RealPath, trainSubset: 10, testSubset: 10_001));
    }

    [Fact]
    public void GetShared_MissingFolder_ThrowsDatasetNotFoundNamingPathAndFix()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-fashion-mnist-" + Guid.NewGuid().ToString("N"));

        var e = Assert.Throws<DatasetNotFoundException>(() => FashionMnist.GetShared(missing, 10, 10));

        Assert.Contains(missing, e.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains("trainable.dataset.path", e.Message);
    }

    [Fact]
    public void Load_FolderWithoutTestImages_ThrowsDatasetNotFoundNamingFile()
    {
        using var dir = new TempDirectory();
        WriteSynthetic(dir, gzip: true, testImages: false);

        var e = Assert.Throws<DatasetNotFoundException>(() => FashionMnist.Load(dir.Path));

        Assert.Contains("t10k-images-idx3-ubyte", e.Message);
        Assert.Contains(dir.Path, e.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Load_GzipOrUnzippedFileNames_LoadsBoth(bool gzip)
    {
        using var dir = new TempDirectory();
        WriteSynthetic(dir, gzip);

        var data = FashionMnist.Load(dir.Path);

        Assert.Equal((3, 2), (data.Train.Count, data.Test.Count));
        Assert.Equal(new long[] { 2, 0, 1 }, data.Train.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 9, 4 }, data.Test.Labels.data<long>().ToArray());
        // Pixel 255 maps to (1 - mean) / std.
        Assert.Equal((1 - FashionMnist.Mean) / FashionMnist.Std, data.Train.Images.max().item<float>(), 4);
    }

    [Fact]
    public void Load_ImageAndLabelCountsDiffer_ThrowsInvalidDataNamingBothFiles()
    {
        using var dir = new TempDirectory();
        WriteSynthetic(dir, gzip: false);
        File.WriteAllBytes(Path.Combine(dir.Path, "train-labels-idx1-ubyte"), IdxFiles.Labels(1, 2));

        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir.Path));

        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains("train-labels-idx1-ubyte", e.Message);
    }

    [Fact]
    public void GetShared_ConcurrentCallsInsideDisposeScopes_LoadOnceAndOutliveTheScopes()
    {
        // A key of its own (subset sizes no other test uses), asked for by four threads at once.
        var results = new ImageDataset[4];
        var threads = Enumerable.Range(0, results.Length).Select(i => new Thread(() =>
        {
            using var scope = torch.NewDisposeScope();
            results[i] = FashionMnist.GetShared(RealPath, trainSubset: 77, testSubset: 33);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.All(results, r => Assert.Same(results[0], r));
        Assert.Same(results[0], DatasetFactory.GetShared(new DatasetSpec { Path = RealPath, TrainSubset = 77, TestSubset = 33 }));
        // Still alive after every scope that was open during loading is gone.
        using var scope = torch.NewDisposeScope();
        Assert.False(results[0].Train.Images.IsInvalid);
        Assert.False(results[0].Test.Labels.IsInvalid);
        Assert.Equal(new long[] { 77, 1, 28, 28 }, results[0].Train.Images.index_select(0, torch.arange(77L)).shape);
        Assert.InRange(results[0].Test.Labels.max().item<long>(), 0, 9);
    }

    [Fact]
    public void DatasetFactory_UnknownName_ThrowsListingValidNames()
    {
        var e = Assert.Throws<ArgumentException>(() => DatasetFactory.GetShared(new DatasetSpec { Name = "imagenet" }));

        Assert.Contains("imagenet", e.Message);
        Assert.Contains(FashionMnist.Name, e.Message);
        Assert.Contains("cifar100", e.Message);
        Assert.Contains("trainable.dataset.format", e.Message);
    }

    [Fact]
    public void Load_RealFolder_PixelsBitIdenticalToEarlierVersions()
    {
        // SHA-256 of the float32 train (3000) then test (700) images as loaded before idx loading was generalized:
        // the quickstart's results depend on these exact values.
        var data = FashionMnist.Load(RealPath, trainSubset: 3000, testSubset: 700);
        var train = data.Train.Images.data<float>().ToArray();
        var test = data.Test.Images.data<float>().ToArray();
        var bytes = new byte[(train.Length + test.Length) * sizeof(float)];
        Buffer.BlockCopy(train, 0, bytes, 0, train.Length * sizeof(float));
        Buffer.BlockCopy(test, 0, bytes, train.Length * sizeof(float), test.Length * sizeof(float));

        Assert.Equal("58B207928CF027934DF2CCAD095D46EBA8F964EDEC5163734CC1FD795FB19D15",
            Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)));
        Assert.Equal(-0.8101983666419983, data.ZeroPixelValues[0]);
        Assert.Equal([FashionMnist.Mean], data.Mean);
        Assert.Equal([FashionMnist.Std], data.Std);
    }

    private static void WriteSynthetic(TempDirectory dir, bool gzip, bool testImages = true)
    {
        void Write(string name, byte[] bytes) =>
            File.WriteAllBytes(Path.Combine(dir.Path, gzip ? name + ".gz" : name), gzip ? IdxFiles.Gzip(bytes) : bytes);

        Write("train-images-idx3-ubyte", IdxFiles.Images(3, 28, 28, i => i == 5 ? (byte)255 : (byte)0));
        Write("train-labels-idx1-ubyte", IdxFiles.Labels(2, 0, 1));
        if (testImages) Write("t10k-images-idx3-ubyte", IdxFiles.Images(2, 28, 28));
        Write("t10k-labels-idx1-ubyte", IdxFiles.Labels(9, 4));
    }
}
