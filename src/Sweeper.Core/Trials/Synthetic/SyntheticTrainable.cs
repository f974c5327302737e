using System.Globalization;
using Sweeper.Core.Search;
using Sweeper.Core.Model;

namespace Sweeper.Core.Trials.Synthetic;

/// <summary>
/// A learning-curve simulator standing in for real training (no TorchSharp): metrics follow
/// <see cref="SyntheticCurve"/> plus Gaussian noise seeded by (trial seed, epoch), so an epoch
/// always reports the same metrics for a seed, in any order and after any restart. Reports the
/// metric names of real training. With a zero epoch duration (the default) it is an instantaneous
/// trial for orchestration benchmarks.
/// </summary>
public sealed class SyntheticTrainable : ITrainable, ICheckpointable, IReportsSteps
{
    private readonly long _seed;
    private bool _disposed;

    public SyntheticTrainable(TrialConfig config, SyntheticTrainableOptions? options = null)
    {
        Settings = SyntheticSettings.From(config, options);
        _seed = config.Seed;
    }

    public SyntheticSettings Settings { get; }
    public int TotalEpochs => Settings.Epochs;

    public EpochResult RunEpoch(int epoch, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(epoch, TotalEpochs);
        cancellationToken.ThrowIfCancellationRequested();
        if (Settings.EpochDuration > TimeSpan.Zero && cancellationToken.WaitHandle.WaitOne(Settings.EpochDuration))
            cancellationToken.ThrowIfCancellationRequested();
        var metrics = Metrics(epoch);
        // One simulated step per epoch: its training loss (NaN once a run diverges).
        _observer?.Invoke(new Stability.StepObservation(epoch, metrics[MetricNames.TrainLoss]));
        return new EpochResult(epoch, metrics, Settings.EpochDuration);
    }

    private Action<Stability.StepObservation>? _observer;

    public void ObserveSteps(Action<Stability.StepObservation>? observer) => _observer = observer;

    /// <summary>The metrics of <paramref name="epoch"/> (a pure function of settings, seed and epoch).</summary>
    public IReadOnlyDictionary<string, double> Metrics(int epoch)
    {
        var s = Settings;
        var random = new Xoshiro256(Seeds.Derive(_seed, epoch)); // SeededRandom's sequence, without a Random's compatibility state
        double testNoise = s.NoiseStd * random.NextGaussian();
        double trainNoise = 0.5 * s.NoiseStd * random.NextGaussian();
        double valNoise = s.NoiseStd * random.NextGaussian(); // drawn last: the test and train draws stay as they were
        double lr = SyntheticCurve.LearningRate(s, epoch);
        double samplesPerSecond = 4000 / s.Width;

        if (SyntheticCurve.Diverges(s))
        {
            double loss = epoch == 1 ? 4 * SyntheticCurve.ChanceLoss : double.NaN;
            return new Dictionary<string, double>(MetricCount)
            {
                [MetricNames.TrainLoss] = loss,
                [MetricNames.TrainAccuracy] = SyntheticCurve.ChanceAccuracy,
                [MetricNames.ValLoss] = loss,
                [MetricNames.ValAccuracy] = SyntheticCurve.ChanceAccuracy,
                [MetricNames.TestLoss] = loss,
                [MetricNames.TestAccuracy] = SyntheticCurve.ChanceAccuracy,
                [MetricNames.LearningRate] = lr,
                [MetricNames.SamplesPerSecond] = samplesPerSecond,
            };
        }

        double clean = SyntheticCurve.ExpectedAccuracy(s, epoch);
        double progress = 1 - Math.Exp(-epoch / SyntheticCurve.TimeConstant(s));
        double test = Math.Clamp(clean + testNoise, 0, 1);
        double train = Math.Clamp(clean + 0.03 * progress + trainNoise, 0, 1);
        double val = Math.Clamp(clean + valNoise, 0, 1);
        return new Dictionary<string, double>(MetricCount)
        {
            [MetricNames.TrainLoss] = SyntheticCurve.LossFor(train),
            [MetricNames.TrainAccuracy] = train,
            [MetricNames.ValLoss] = SyntheticCurve.LossFor(val),
            [MetricNames.ValAccuracy] = val,
            [MetricNames.TestLoss] = SyntheticCurve.LossFor(test),
            [MetricNames.TestAccuracy] = test,
            [MetricNames.LearningRate] = lr,
            [MetricNames.SamplesPerSecond] = samplesPerSecond,
        };
    }

    /// <summary>
    /// Saves the state after <paramref name="epoch"/>. Metrics are a pure function of (settings,
    /// seed, epoch), so the state is the epoch plus a fingerprint that <see cref="LoadCheckpoint"/>
    /// checks. Same signature as <c>ICheckpointable.SaveCheckpoint</c>.
    /// </summary>
    public void SaveCheckpoint(string path, int epoch)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(epoch, TotalEpochs);
        File.WriteAllText(path, string.Create(CultureInfo.InvariantCulture, $"{CheckpointHeader}\nepoch={epoch}\nfingerprint={Fingerprint()}\n"));
    }

    /// <summary>Restores a state saved by <see cref="SaveCheckpoint"/> and returns its epoch; throws <see cref="InvalidDataException"/> for another run's checkpoint.</summary>
    public int LoadCheckpoint(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var fields = File.ReadAllLines(path);
        if (fields.Length < 3 || fields[0] != CheckpointHeader || !fields[1].StartsWith("epoch=", StringComparison.Ordinal)
            || !int.TryParse(fields[1]["epoch=".Length..], NumberStyles.Integer, CultureInfo.InvariantCulture, out int epoch)
            || epoch < 0 || epoch > TotalEpochs)
            throw new InvalidDataException($"{path} is not a synthetic trainable checkpoint");
        if (fields[2] != $"fingerprint={Fingerprint()}")
            throw new InvalidDataException($"{path} was saved by a synthetic run with other settings or another seed");
        return epoch;
    }

    private const string CheckpointHeader = "sweeper-synthetic-checkpoint v1";

    /// <summary>The metrics an epoch reports: the dictionaries are sized for them (no growth: one entry array each).</summary>
    private const int MetricCount = 8;

    private string Fingerprint() => string.Create(CultureInfo.InvariantCulture,
        $"{_seed}:{Settings.Lr:R}:{Settings.Optimizer}:{Settings.Momentum:R}:{Settings.Width:R}:{Settings.Bits}:{Settings.Epochs}:{Settings.NoiseStd:R}");

    public void Dispose() => _disposed = true;
}

/// <summary>Creates <see cref="SyntheticTrainable"/>s with shared defaults.</summary>
public sealed class SyntheticTrainableFactory(SyntheticTrainableOptions? options = null) : ITrainableFactory
{
    public SyntheticTrainableOptions Options { get; } = options ?? new SyntheticTrainableOptions();

    public ITrainable Create(TrialConfig config) => new SyntheticTrainable(config, Options);
}
