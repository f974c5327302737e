using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training.Data;
using Sweeper.Training.Trainables;

namespace Sweeper.Training.Tests.Data;

/// <summary>The whole path from files to a trained epoch, for the formats other than idx.</summary>
public sealed class DatasetTrainingTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    private static TrialConfig Config(DatasetSpec dataset, int? inputSize = null, int? inputChannels = null) => new()
    {
        Id = new TrialId(0),
        Seed = 1,
        Parameters = [],
        Trainable = new TrainableSpec
        {
            Model = "mobilenet_v1",
            Width = 0.25,
            Dataset = dataset,
            Epochs = 1,
            BatchSize = 8,
            InputSize = inputSize,
            InputChannels = inputChannels,
            Optimizer = new OptimizerSpec { Name = "sgd", Lr = 0.05, Momentum = 0.9, WeightDecay = 5e-5 },
        },
    };

    [Fact]
    public void RunEpoch_TinyCifar10Set_TrainsOneEpochOnColourImages()
    {
        var random = new Random(4);
        for (int b = 1; b <= 5; b++)
            File.WriteAllBytes(dir.File($"data_batch_{b}.bin"),
                DataFiles.Cifar10(Enumerable.Range(0, 8).Select(i => (byte)((b + i) % 10)).ToArray(), (_, _) => (byte)random.Next(256)));
        File.WriteAllBytes(dir.File("test_batch.bin"), DataFiles.Cifar10([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], (_, _) => (byte)random.Next(256)));

        using var trainable = new TorchTrainable(Config(new DatasetSpec { Name = "cifar10", Path = dir.Path }));
        var result = trainable.RunEpoch(1, CancellationToken.None);

        Assert.Equal(5, trainable.StepsPerEpoch); // 40 images in batches of 8
        Assert.True(double.IsFinite(result.Get(MetricNames.TrainLoss)));
        Assert.InRange(result.Get(MetricNames.TestAccuracy), 0, 1);
        Assert.Equal(1, trainable.CompletedEpochs);
    }

    [Fact]
    public void RunEpoch_TinyNpySetCroppedToGrey_TrainsOneEpoch()
    {
        // 36 colour images of 36×36 (channels last, floats), cropped to 32×32 and taken to grey; labels 0..3.
        var random = new Random(5);
        float[] Images(int n) => Enumerable.Range(0, n * 36 * 36 * 3).Select(_ => (float)random.NextDouble()).ToArray();
        File.WriteAllBytes(dir.File("x_train.npy"), DataFiles.Npy("<f4", [36, 36, 36, 3], DataFiles.Floats(Images(36))));
        File.WriteAllBytes(dir.File("x_test.npy"), DataFiles.Npy("<f4", [12, 36, 36, 3], DataFiles.Floats(Images(12))));
        File.WriteAllBytes(dir.File("y_train.npy"), DataFiles.Npy("<i8", [36], DataFiles.Int64s(Enumerable.Range(0, 36).Select(i => (long)(i % 4)).ToArray())));
        File.WriteAllBytes(dir.File("y_test.npy"), DataFiles.Npy("<i8", [12], DataFiles.Int64s(Enumerable.Range(0, 12).Select(i => (long)(i % 4)).ToArray())));
        var spec = new DatasetSpec { Name = "tiny", Format = DatasetFormats.Npy, Path = dir.Path, Validation = 4 };

        using var trainable = new TorchTrainable(Config(spec, inputSize: 32, inputChannels: 1));
        var result = trainable.RunEpoch(1, CancellationToken.None);

        Assert.Equal(4, trainable.StepsPerEpoch); // 32 training images left after 4 held out
        Assert.True(double.IsFinite(result.Get(MetricNames.TrainLoss)));
        Assert.InRange(result.Get(MetricNames.TestAccuracy), 0, 1);
    }
}
