using Sweeper.Core.Spec;
using Sweeper.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Data;

public sealed class CifarDatasetTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>Pixel i of record r of batch b: varies with record and position; the channels have different ranges.</summary>
    private static byte Pixel(int batch, int record, int i) => (byte)((batch * 37 + record * 11 + i % 1024 % (64 * (1 + i / 1024))) % 256);

    /// <summary>Five training batches of two records (labels 0..9 in order) and a test batch of three (labels 7, 8, 9).</summary>
    private void WriteCifar10()
    {
        for (int b = 1; b <= 5; b++)
        {
            int batch = b;
            File.WriteAllBytes(dir.File($"data_batch_{b}.bin"),
                DataFiles.Cifar10([(byte)(2 * b - 2), (byte)(2 * b - 1)], (r, i) => Pixel(batch, r, i)));
        }
        File.WriteAllBytes(dir.File("test_batch.bin"), DataFiles.Cifar10([7, 8, 9], (r, i) => Pixel(0, r, i)));
    }

    private static float[] Raw(ImageDataset data, ImageSplit split, int image)
    {
        // Undo the normalization per channel: x * std + mean, back to the [0,1] pixel.
        using var scope = torch.NewDisposeScope();
        var x = split.Images[image];
        var mean = torch.tensor(data.Mean.ToArray()).view(3, 1, 1);
        var std = torch.tensor(data.Std.ToArray()).view(3, 1, 1);
        return (x * std + mean).flatten().data<float>().ToArray();
    }

    [Fact]
    public void Load_Cifar10Batches_ReturnsPixelsLabelsAndClassesInFileOrder()
    {
        WriteCifar10();

        var data = CifarDataset.Load("cifar10", dir.Path);

        Assert.Equal((10, 3, 32, 10), (data.Classes, data.Channels, data.ImageSize, data.Train.Count));
        Assert.Equal(new long[] { 10, 3, 32, 32 }, data.Train.Images.shape);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), data.Train.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 7, 8, 9 }, data.Test.Labels.data<long>().ToArray());
        // Image 5 is record 1 of data_batch_3.bin; its CHW bytes come back in the same order.
        var expected = Enumerable.Range(0, 3072).Select(i => Pixel(3, 1, i) / 255f).ToArray();
        var actual = Raw(data, data.Train, 5);
        Assert.All(Enumerable.Range(0, 3072), i => Assert.Equal(expected[i], actual[i], 5));
        Assert.Equal(Pixel(0, 2, 1024 + 33) / 255f, Raw(data, data.Test, 2)[1024 + 33], 5); // green plane, row 1, column 1
    }

    [Fact]
    public void Load_Cifar10_NormalizesPerChannelWithTheTrainingImagesMeanAndStd()
    {
        WriteCifar10();

        var data = CifarDataset.Load("cifar10", dir.Path);

        for (int c = 0; c < 3; c++)
        {
            int channel = c;
            var values = Enumerable.Range(1, 5).SelectMany(b => Enumerable.Range(0, 2).SelectMany(r =>
                Enumerable.Range(channel * 1024, 1024).Select(i => Pixel(b, r, i) / 255.0)));
            var (mean, std) = DataFiles.Stats(values);
            Assert.Equal(mean, data.Mean[c], 5);
            Assert.Equal(std, data.Std[c], 5);
            Assert.Equal(-mean / std, data.ZeroPixelValues[c], 4);
            using var scope = torch.NewDisposeScope();
            var x = data.Train.Images.select(1, c);
            Assert.Equal(0, x.mean().item<float>(), 4);
            Assert.Equal(1, x.std(unbiased: false).item<float>(), 4);
        }
        Assert.NotEqual(data.Mean[0], data.Mean[2]);
    }

    [Fact]
    public void Load_Cifar100_UsesTheFineLabelsAnd100Classes()
    {
        File.WriteAllBytes(dir.File("train.bin"), DataFiles.Cifar100([(1, 42), (19, 99), (0, 0)], (r, i) => Pixel(1, r, i)));
        File.WriteAllBytes(dir.File("test.bin"), DataFiles.Cifar100([(3, 57)], (r, i) => Pixel(2, r, i)));

        var data = CifarDataset.Load("my_cifar", dir.Path);

        Assert.Equal(100, data.Classes);
        Assert.Equal(new long[] { 42, 99, 0 }, data.Train.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 57 }, data.Test.Labels.data<long>().ToArray());
        Assert.Equal(Pixel(1, 1, 2048 + 500) / 255f, Raw(data, data.Train, 1)[2048 + 500], 5);
        Assert.Equal(CifarDataset.Kind.Cifar100, CifarDataset.Detect(dir.Path));
    }

    [Fact]
    public void Load_SubsetsAcrossBatches_ReadsTheFirstRecords()
    {
        WriteCifar10();

        var data = CifarDataset.Load("cifar10", dir.Path, trainSubset: 5, testSubset: 1);

        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, data.Train.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 7 }, data.Test.Labels.data<long>().ToArray());
        Assert.Equal(Pixel(3, 0, 7) / 255f, Raw(data, data.Train, 4)[7], 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => CifarDataset.Load("cifar10", dir.Path, trainSubset: 11));
    }

    [Fact]
    public void DatasetFactory_CifarWithValidation_HeldOutImagesDisjointFromTraining()
    {
        WriteCifar10();
        var spec = new DatasetSpec { Name = "cifar10", Path = dir.Path, Validation = 4, SplitSeed = 3 };

        var data = DatasetFactory.GetShared(spec);

        Assert.Same(data, DatasetFactory.GetShared(spec));
        Assert.Equal((6, 4), (data.Train.Count, data.Validation!.Count));
        // Labels are the image indices here: the two splits partition 0..9.
        var train = data.Train.Labels.data<long>().ToArray();
        var validation = data.Validation.Labels.data<long>().ToArray();
        Assert.Empty(train.Intersect(validation));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), train.Concat(validation).Order());
        Assert.Equal(ValidationSplit.ValidationIndices(10, 4, 3).Select(i => (long)i), validation);
        Assert.Equal(data.Mean, DatasetFactory.GetShared(spec with { Validation = null }).Mean);
    }

    [Fact]
    public void Load_MissingTestBatch_ThrowsDatasetNotFoundNamingTheFile()
    {
        WriteCifar10();
        File.Delete(dir.File("test_batch.bin"));

        var e = Assert.Throws<DatasetNotFoundException>(() => CifarDataset.Load("cifar10", dir.Path));

        Assert.Contains(dir.File("test_batch.bin"), e.Message);
        Assert.Contains("CIFAR-10", e.Message);
    }

    [Fact]
    public void Check_MissingFiles_NamesEachWithItsFullPathAndTheLayout()
    {
        WriteCifar10();
        File.Delete(dir.File("test_batch.bin"));
        File.Delete(dir.File("data_batch_4.bin"));

        var problems = DatasetFactory.Check(new DatasetSpec { Name = "cifar10", Path = dir.Path });

        Assert.Equal(
            [
                $"'{dir.File("data_batch_4.bin")}' is missing: a CIFAR-10 folder holds data_batch_1.bin … data_batch_5.bin and test_batch.bin.",
                $"'{dir.File("test_batch.bin")}' is missing: a CIFAR-10 folder holds data_batch_1.bin … data_batch_5.bin and test_batch.bin.",
            ],
            problems);
    }

    [Fact]
    public void Check_EmptyFolderNamedCifar100_NamesTheCifar100Files()
    {
        var problems = DatasetFactory.Check(new DatasetSpec { Name = "cifar100", Path = dir.Path });

        Assert.Equal(2, problems.Count);
        Assert.Contains(dir.File("train.bin"), problems[0]);
        Assert.Contains("CIFAR-100", problems[0]);
        Assert.Contains(dir.File("test.bin"), problems[1]);
    }

    [Fact]
    public void Check_FolderOfTheOtherKindOrBoth_ReportsIt()
    {
        File.WriteAllBytes(dir.File("train.bin"), []);
        File.WriteAllBytes(dir.File("test.bin"), []);

        var wrongKind = DatasetFactory.Check(new DatasetSpec { Name = "cifar10", Path = dir.Path });
        File.WriteAllBytes(dir.File("test_batch.bin"), []);
        var both = DatasetFactory.Check(new DatasetSpec { Name = "x", Format = DatasetFormats.Cifar, Path = dir.Path });

        Assert.Contains("CIFAR-100", Assert.Single(wrongKind));
        Assert.Contains("both", Assert.Single(both));
        Assert.Throws<InvalidDataException>(() => CifarDataset.Load("x", dir.Path));
    }

    [Fact]
    public void Check_CompleteFolder_ReturnsNoProblems()
    {
        WriteCifar10();

        Assert.Empty(DatasetFactory.Check(new DatasetSpec { Name = "cifar10", Path = dir.Path }));
    }

    [Fact]
    public void Load_TruncatedBatch_ThrowsInvalidDataNamingTheFile()
    {
        WriteCifar10();
        var path = dir.File("data_batch_2.bin");
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^100]);

        var e = Assert.Throws<InvalidDataException>(() => CifarDataset.Load("cifar10", dir.Path));

        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("3073-byte records", e.Message);
    }

    [Fact]
    public void Load_LabelOutOfRange_ThrowsInvalidDataNamingTheFileAndRecord()
    {
        WriteCifar10();
        File.WriteAllBytes(dir.File("test_batch.bin"), DataFiles.Cifar10([1, 10], (r, i) => 0));

        var e = Assert.Throws<InvalidDataException>(() => CifarDataset.Load("cifar10", dir.Path));

        Assert.Contains(dir.File("test_batch.bin"), e.Message);
        Assert.Contains("label 10 in record 1", e.Message);
        Assert.Contains("0..9", e.Message);
    }

    [Fact]
    public void GetShared_MissingFolder_ThrowsDatasetNotFound()
    {
        var missing = dir.File("nothing-here");

        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetFactory.GetShared(new DatasetSpec { Name = "cifar10", Path = missing }));

        Assert.Contains(missing, e.Message);
        Assert.Contains(missing, Assert.Single(DatasetFactory.Check(new DatasetSpec { Name = "cifar10", Path = missing })));
    }
}
