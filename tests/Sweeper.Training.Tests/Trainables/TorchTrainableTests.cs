using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training.Data;
using Sweeper.Training.Trainables;
using TorchSharp;
using Sweeper.Core.Model;

namespace Sweeper.Training.Tests.Trainables;

public sealed class TorchTrainableTests
{
    private static TrialConfig Config(
        long seed = 1, double width = 0.25, int train = 512, int test = 200, int epochs = 1, int batch = 64,
        double lr = 0.1, string optimizer = "sgd", string schedule = "cosine", string path = FashionMnist.DefaultPath) => new()
    {
        Id = new TrialId(0),
        Seed = seed,
        Parameters = [],
        Trainable = new TrainableSpec
        {
            Model = "mobilenet_v1",
            Width = width,
            Dataset = new DatasetSpec { Path = path, TrainSubset = train, TestSubset = test },
            Epochs = epochs,
            BatchSize = batch,
            Optimizer = new OptimizerSpec { Name = optimizer, Lr = lr, Momentum = 0.9, WeightDecay = 5e-5 },
            LrSchedule = schedule,
        },
    };

    [Fact]
    public void RunEpoch_SmallSubset_TestAccuracyWellAboveChance()
    {
        // 125 steps. Far fewer (2000 images in batches of 64: 31 steps) leave the BatchNorm running statistics so far
        // behind the weights that eval-mode accuracy can sit near chance while train-mode accuracy is 0.6.
        using var trainable = new TorchTrainableFactory().Create(Config(train: 4000, test: 500, batch: 32, seed: 3));

        var result = trainable.RunEpoch(1, CancellationToken.None);

        // Chance is 0.10; seeds 1-4 reach 0.72-0.74 here.
        Assert.True(result.Get(MetricNames.TestAccuracy) >= 0.6, $"test accuracy {result.Get(MetricNames.TestAccuracy):F3}");
        Assert.True(result.Get(MetricNames.TrainLoss) < Math.Log(10), $"train loss {result.Get(MetricNames.TrainLoss):F3}");
        Assert.Equal(1, result.Epoch);
        Assert.True(result.Metrics.ContainsKey(MetricNames.SamplesPerSecond)); // reported (its value is a speed: sweeper bench measures those)
        Assert.Equal(0.0, result.Get(MetricNames.LearningRate)); // cosine reaches 0 at the end of the last epoch
    }

    [Fact]
    public void RunEpoch_SameSeedTwice_IdenticalMetrics()
    {
        var first = RunOnce(Config(seed: 5));
        var second = RunOnce(Config(seed: 5));
        var otherSeed = RunOnce(Config(seed: 6));

        foreach (var name in new[] { MetricNames.TrainLoss, MetricNames.TrainAccuracy, MetricNames.TestLoss, MetricNames.TestAccuracy, MetricNames.LearningRate })
            Assert.Equal(first.Get(name), second.Get(name));
        Assert.NotEqual(first.Get(MetricNames.TrainLoss), otherSeed.Get(MetricNames.TrainLoss));

        static EpochResult RunOnce(TrialConfig config)
        {
            using var trainable = new TorchTrainable(config);
            return trainable.RunEpoch(1, CancellationToken.None);
        }
    }

    [Fact]
    public void RunEpoch_SameSeedOnTwoThreadsAtOnce_IdenticalMetrics()
    {
        // Concurrent trials share one process: nothing of a trial may depend on torch's global generator.
        var results = new EpochResult[2];
        using var start = new Barrier(2);
        var threads = Enumerable.Range(0, 2).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            using var trainable = new TorchTrainable(Config(seed: 8, train: 256, test: 100));
            results[i] = trainable.RunEpoch(1, CancellationToken.None);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(results[0].Get(MetricNames.TrainLoss), results[1].Get(MetricNames.TrainLoss));
        Assert.Equal(results[0].Get(MetricNames.TestLoss), results[1].Get(MetricNames.TestLoss));
    }

    [Fact]
    public void RunEpoch_CancelledBeforeStart_ThrowsOperationCanceled()
    {
        using var trainable = new TorchTrainable(Config());
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => trainable.RunEpoch(1, cts.Token));
        Assert.Equal(0, trainable.CompletedEpochs);
    }

    [Fact]
    public void RunEpoch_CancelledMidEpoch_StopsBetweenStepsWithOperationCanceled()
    {
        // 10 000 images take many seconds; cancel once a few steps ran and expect the stop before the next step.
        using var trainable = new TorchTrainable(Config(train: 10_000, test: 200));
        using var cts = new CancellationTokenSource();
        int steps = 0;
        trainable.StepCompleted = _ => { if (++steps == 3) cts.Cancel(); };

        Assert.ThrowsAny<OperationCanceledException>(() => trainable.RunEpoch(1, cts.Token));

        Assert.Equal(3, steps); // no step ran after the one that saw the cancellation
        Assert.True(steps < trainable.StepsPerEpoch);
        Assert.Equal(0, trainable.CompletedEpochs);
    }

    [Fact]
    public void RunEpoch_ConstantSchedule_ReportsTheBaseRate()
    {
        using var trainable = new TorchTrainable(Config(train: 128, test: 50, schedule: "constant", lr: 0.03, optimizer: "adam", epochs: 2));

        var result = trainable.RunEpoch(1, CancellationToken.None);

        Assert.Equal(0.03, result.Get(MetricNames.LearningRate));
        Assert.Equal(2, trainable.TotalEpochs);
        Assert.Equal(2, trainable.StepsPerEpoch);
        Assert.True(double.IsFinite(result.Get(MetricNames.TrainLoss)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void RunEpoch_EpochOutsideTheRun_ThrowsArgumentOutOfRange(int epoch)
    {
        using var trainable = new TorchTrainable(Config(train: 128, test: 50, epochs: 2));

        Assert.Throws<ArgumentOutOfRangeException>(() => trainable.RunEpoch(epoch, CancellationToken.None));
    }

    [Fact]
    public void LearningRateAt_Cosine_DecaysPerStepOverAllEpochs()
    {
        using var trainable = new TorchTrainable(Config(train: 640, test: 50, batch: 64, epochs: 2, lr: 0.2));

        Assert.Equal(10, trainable.StepsPerEpoch);
        Assert.Equal(0.2, trainable.LearningRateAt(0), 12);
        Assert.Equal(0.1, trainable.LearningRateAt(10), 12); // half-way: end of epoch 1 of 2
        Assert.Equal(0.0, trainable.LearningRateAt(20), 12);
    }

    [Fact]
    public void Constructor_UnknownOptimizer_ThrowsListingValidNames()
    {
        var e = Assert.Throws<ArgumentException>(() => new TorchTrainable(Config(optimizer: "lamb")));

        Assert.Contains("lamb", e.Message);
        Assert.Contains("sgd", e.Message);
        Assert.Contains("adam", e.Message);
    }

    [Fact]
    public void Constructor_UnknownSchedule_ThrowsListingValidNames()
    {
        var e = Assert.Throws<ArgumentException>(() => new TorchTrainable(Config(schedule: "step")));

        Assert.Contains("cosine", e.Message);
    }

    [Fact]
    public void Factory_MissingDataset_ThrowsDatasetNotFound()
    {
        var missing = Path.Combine(Path.GetTempPath(), "missing-" + Guid.NewGuid().ToString("N"));

        var e = Assert.Throws<DatasetNotFoundException>(() => new TorchTrainableFactory().Create(Config(path: missing)));

        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void LoadCheckpoint_IntoFreshTrainable_SameEvaluation()
    {
        using var dir = new TempDirectory();
        var path = dir.File("sub/epoch1.ckpt");
        var config = Config(seed: 11, epochs: 2);
        using var saved = new TorchTrainable(config);
        saved.RunEpoch(1, CancellationToken.None);
        saved.SaveCheckpoint(path);
        var before = saved.Evaluate();

        using var restored = new TorchTrainable(config with { Seed = 99 });
        var untrained = restored.Evaluate();
        restored.LoadCheckpoint(path);
        var after = restored.Evaluate();

        Assert.NotEqual(before.Loss, untrained.Loss);
        Assert.Equal(before, after);
        Assert.Equal(1, restored.CompletedEpochs);
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void LoadCheckpoint_ThenNextEpoch_MatchesTheUninterruptedRun()
    {
        using var dir = new TempDirectory();
        var path = dir.File("epoch1.ckpt");
        var config = Config(seed: 21, epochs: 2, train: 256, test: 100);

        using var uninterrupted = new TorchTrainable(config);
        uninterrupted.RunEpoch(1, CancellationToken.None);
        uninterrupted.SaveCheckpoint(path);
        var expected = uninterrupted.RunEpoch(2, CancellationToken.None);

        // A fresh trainable (different init seed) resumes from the checkpoint: weights, momentum and data order.
        using var resumed = new TorchTrainable(config with { Seed = 22 });
        resumed.LoadCheckpoint(path);
        var actual = resumed.RunEpoch(2, CancellationToken.None);

        foreach (var name in new[] { MetricNames.TrainLoss, MetricNames.TrainAccuracy, MetricNames.TestLoss, MetricNames.TestAccuracy, MetricNames.LearningRate })
            Assert.Equal(expected.Get(name), actual.Get(name));
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void LoadCheckpoint_InsideADisposeScope_OptimizerStateOutlivesTheScope(string optimizer)
    {
        using var dir = new TempDirectory();
        var path = dir.File("state.ckpt");
        var config = Config(train: 128, test: 50, epochs: 2, optimizer: optimizer, lr: optimizer == "adam" ? 0.001 : 0.1);
        using (var saved = new TorchTrainable(config))
        {
            saved.RunEpoch(1, CancellationToken.None);
            saved.SaveCheckpoint(path);
        }
        using var resumed = new TorchTrainable(config);

        using (torch.NewDisposeScope())
            resumed.LoadCheckpoint(path);
        var result = resumed.RunEpoch(2, CancellationToken.None); // would touch disposed momentum tensors otherwise

        Assert.True(double.IsFinite(result.Get(MetricNames.TrainLoss)));
    }

    [Fact]
    public void LoadCheckpoint_OtherWidth_ThrowsInvalidDataNamingTheMismatch()
    {
        using var dir = new TempDirectory();
        var path = dir.File("w025.ckpt");
        using (var narrow = new TorchTrainable(Config(train: 128, test: 50)))
            narrow.SaveCheckpoint(path);
        using var wide = new TorchTrainable(Config(train: 128, test: 50, width: 0.5));

        var e = Assert.Throws<InvalidDataException>(() => wide.LoadCheckpoint(path));

        Assert.Contains("width", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void LoadCheckpoint_NotACheckpoint_ThrowsInvalidData()
    {
        using var dir = new TempDirectory();
        var path = dir.File("notes.txt");
        File.WriteAllText(path, "hello");
        using var trainable = new TorchTrainable(Config(train: 128, test: 50));

        Assert.Throws<InvalidDataException>(() => trainable.LoadCheckpoint(path));
    }

    [Fact]
    public void Dispose_ThenRunEpoch_ThrowsObjectDisposed()
    {
        var trainable = new TorchTrainable(Config(train: 128, test: 50));
        trainable.Dispose();
        trainable.Dispose(); // idempotent

        Assert.Throws<ObjectDisposedException>(() => trainable.RunEpoch(1, CancellationToken.None));
    }

    [Fact]
    public void Constructor_OnItsThread_UsesOneIntraOpThread()
    {
        int threads = -1;
        var thread = new Thread(() =>
        {
            using var trainable = new TorchTrainable(Config(train: 128, test: 50));
            threads = torch.get_num_threads();
        });
        thread.Start();
        thread.Join();

        Assert.Equal(1, threads);
    }
}
