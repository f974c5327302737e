using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Trials.Synthetic;
using Sweeper.Core.Model;
using Sweeper.Core.Search;

namespace Sweeper.Core.Tests.Trials;

public class SyntheticTrainableTests
{
    private static TrialConfig Config(long seed, params (string Key, object Value)[] parameters) => new()
    {
        Id = new TrialId(0),
        Seed = seed,
        Parameters = parameters.Select(p => new KeyValuePair<string, object>(p.Key, p.Value)).ToList(),
        Trainable = new TrainableSpec { Dataset = new DatasetSpec(), Epochs = 6 },
    };

    private static List<EpochResult> RunAll(ITrainable trainable) =>
        Enumerable.Range(1, trainable.TotalEpochs).Select(e => trainable.RunEpoch(e, CancellationToken.None)).ToList();

    [Theory]
    [InlineData(1L)]
    [InlineData(987654321L)]
    public void RunEpoch_SameSeed_SameMetrics(long seed)
    {
        using var a = new SyntheticTrainable(Config(seed, ("trainable.optimizer.lr", 0.01)));
        using var b = new SyntheticTrainable(Config(seed, ("trainable.optimizer.lr", 0.01)));
        using var c = new SyntheticTrainable(Config(seed + 1, ("trainable.optimizer.lr", 0.01)));
        var ra = RunAll(a);
        Assert.Equal(ra.Select(r => r.Metrics), RunAll(b).Select(r => r.Metrics));
        Assert.NotEqual(ra.Select(r => r.Get(MetricNames.TestAccuracy)), RunAll(c).Select(r => r.Get(MetricNames.TestAccuracy)));
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(-987654321L)]
    public void RunEpoch_Noise_IsTheEpochSeedsSeededRandomDraws(long seed)
    {
        // The documented sequence: test, train, then validation noise drawn from SeededRandom(Derive(seed, epoch)).
        using var t = new SyntheticTrainable(Config(seed, ("trainable.optimizer.lr", 0.01)));
        var s = t.Settings;
        for (int epoch = 1; epoch <= t.TotalEpochs; epoch++)
        {
            var random = new SeededRandom(Seeds.Derive(seed, epoch));
            double test = s.NoiseStd * random.NextGaussian();
            random.NextGaussian();
            double val = s.NoiseStd * random.NextGaussian();
            double clean = SyntheticCurve.ExpectedAccuracy(s, epoch);
            var result = t.RunEpoch(epoch, CancellationToken.None);
            Assert.Equal(Math.Clamp(clean + test, 0, 1), result.Get(MetricNames.TestAccuracy));
            Assert.Equal(Math.Clamp(clean + val, 0, 1), result.Get(MetricNames.ValAccuracy));
        }
    }

    [Fact]
    public void RunEpoch_OutOfOrderAfterRestart_SameMetricsForTheEpoch()
    {
        using var t = new SyntheticTrainable(Config(5));
        var third = t.RunEpoch(3, CancellationToken.None);
        t.RunEpoch(1, CancellationToken.None);
        Assert.Equal(third.Metrics, t.RunEpoch(3, CancellationToken.None).Metrics);
    }

    [Theory]
    [InlineData(1e-5, false)]
    [InlineData(1e-3, false)]
    [InlineData(0.05, true)]
    [InlineData(0.5, false)]
    public void RunEpoch_LearningRate_BestNearTheOptimum(double lr, bool isBest)
    {
        double Final(double x)
        {
            using var t = new SyntheticTrainable(Config(3, ("trainable.optimizer.lr", x)), new SyntheticTrainableOptions { NoiseStd = 0 });
            return RunAll(t)[^1].Get(MetricNames.TestAccuracy);
        }
        double[] lrs = [1e-5, 1e-3, 0.05, 0.5];
        double best = lrs.Max(Final);
        Assert.Equal(isBest, Final(lr) == best);
        Assert.True(Final(1e-5) < Final(1e-3) - 0.05, "a learning rate 1000× too low should learn much less in 6 epochs");
    }

    [Fact]
    public void RunEpoch_Training_AccuracyRisesAndLossFallsWithEpochs()
    {
        using var t = new SyntheticTrainable(Config(4, ("trainable.optimizer.lr", 0.02)), new SyntheticTrainableOptions { NoiseStd = 0 });
        var results = RunAll(t);
        var accuracy = results.Select(r => r.Get(MetricNames.TestAccuracy)).ToList();
        var loss = results.Select(r => r.Get(MetricNames.TestLoss)).ToList();
        Assert.Equal(accuracy.Order(), accuracy);
        Assert.Equal(loss.OrderDescending(), loss);
        Assert.InRange(accuracy[^1], 0.8, 0.95);
        Assert.Equal(
            new[] { MetricNames.LearningRate, MetricNames.SamplesPerSecond, MetricNames.TestAccuracy, MetricNames.TestLoss, MetricNames.TrainAccuracy, MetricNames.TrainLoss, MetricNames.ValAccuracy, MetricNames.ValLoss },
            results[0].Metrics.Keys.Order());
    }

    [Theory]
    [InlineData(2L, 8L)]
    [InlineData(4L, 8L)]
    public void RunEpoch_FewerBits_LowerAccuracy(long fewer, long more)
    {
        double Final(long bits)
        {
            using var t = new SyntheticTrainable(Config(1, ("quantization.bits", bits)), new SyntheticTrainableOptions { NoiseStd = 0 });
            return RunAll(t)[^1].Get(MetricNames.TestAccuracy);
        }
        Assert.True(Final(fewer) < Final(more));
    }

    [Fact]
    public void RunEpoch_LearningRateFarTooHigh_DivergesToNaNLosses()
    {
        using var t = new SyntheticTrainable(Config(1, ("trainable.optimizer.name", "adam"), ("trainable.optimizer.lr", 0.5)));
        var results = RunAll(t);
        Assert.True(double.IsFinite(results[0].Get(MetricNames.TestLoss)));
        Assert.All(results.Skip(1), r => Assert.True(double.IsNaN(r.Get(MetricNames.TestLoss))));
        Assert.All(results, r => Assert.Equal(SyntheticCurve.ChanceAccuracy, r.Get(MetricNames.TestAccuracy)));
    }

    [Theory]
    [InlineData("cosine", 1, 0.05)]
    [InlineData("cosine", 4, 0.025)]
    [InlineData("constant", 6, 0.05)]
    public void RunEpoch_LrSchedule_ReportsTheLearningRateInEffect(string schedule, int epoch, double expected)
    {
        using var t = new SyntheticTrainable(Config(1, ("trainable.lr_schedule", schedule)));
        Assert.Equal(expected, t.RunEpoch(epoch, CancellationToken.None).Get(MetricNames.LearningRate), 12);
    }

    [Fact]
    public void Settings_ParametersOverrideTheTrainableSpec()
    {
        var config = Config(1, ("trainable.width", 1.0), ("trainable.epochs", 3L), ("trainable.quantization.bits", 4L), ("trainable.synthetic.epoch_seconds", 0.25));
        var settings = new SyntheticTrainable(config).Settings;
        Assert.Equal(1.0, settings.Width);
        Assert.Equal(3, settings.Epochs);
        Assert.Equal(4, settings.Bits);
        Assert.Equal(0.05, settings.Lr);
        Assert.Equal(TimeSpan.FromSeconds(0.25), settings.EpochDuration);
    }

    [Theory]
    [InlineData("trainable.optimizer.lr", 0.0)]
    [InlineData("trainable.width", -1.0)]
    [InlineData("trainable.optimizer.name", "rmsprop")]
    [InlineData("trainable.optimizer.momentum", 1.0)]
    public void Constructor_InvalidParameter_Throws(string key, object value) =>
        Assert.Throws<ArgumentException>(() => new SyntheticTrainable(Config(1, (key, value))));

    [Fact]
    public void RunEpoch_CancelledDuringEpochDuration_Throws()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        using var t = new SyntheticTrainable(Config(1), new SyntheticTrainableOptions { EpochDuration = TimeSpan.FromSeconds(30) });
        Assert.Throws<OperationCanceledException>(() => t.RunEpoch(1, cts.Token));
    }

    [Fact]
    public void RunEpoch_WithEpochDuration_WaitsAndReportsIt()
    {
        using var t = new SyntheticTrainableFactory(new SyntheticTrainableOptions { EpochDuration = TimeSpan.FromMilliseconds(30) }).Create(Config(1));
        var result = t.RunEpoch(1, CancellationToken.None);
        Assert.Equal(TimeSpan.FromMilliseconds(30), result.Duration);

        // It really waits: a token cancelled during a long epoch interrupts it, instead of a result coming back at once.
        using var slow = new SyntheticTrainableFactory(new SyntheticTrainableOptions { EpochDuration = TimeSpan.FromMinutes(10) }).Create(Config(1));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        Assert.ThrowsAny<OperationCanceledException>(() => slow.RunEpoch(1, cts.Token));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void RunEpoch_EpochOutOfRange_Throws(int epoch)
    {
        using var t = new SyntheticTrainable(Config(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.RunEpoch(epoch, CancellationToken.None));
    }

    [Fact]
    public void LoadCheckpoint_SavedAfterEpoch3_ResumesWithTheSameMetrics()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sweeper-synthetic-{Guid.NewGuid():N}.ckpt");
        try
        {
            using var first = new SyntheticTrainable(Config(21, ("trainable.optimizer.lr", 0.02)));
            var uninterrupted = RunAll(first);
            first.SaveCheckpoint(path, 3);

            using var resumed = new SyntheticTrainable(Config(21, ("trainable.optimizer.lr", 0.02)));
            int from = resumed.LoadCheckpoint(path);

            Assert.Equal(3, from);
            Assert.Equal(uninterrupted.Skip(3).Select(r => r.Metrics),
                Enumerable.Range(from + 1, 3).Select(e => resumed.RunEpoch(e, CancellationToken.None).Metrics));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(22L, 0.02)]
    [InlineData(21L, 0.03)]
    public void LoadCheckpoint_OtherSeedOrSettings_Throws(long seed, double lr)
    {
        string path = Path.Combine(Path.GetTempPath(), $"sweeper-synthetic-{Guid.NewGuid():N}.ckpt");
        try
        {
            using (var saver = new SyntheticTrainable(Config(21, ("trainable.optimizer.lr", 0.02)))) saver.SaveCheckpoint(path, 2);
            using var other = new SyntheticTrainable(Config(seed, ("trainable.optimizer.lr", lr)));
            Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
