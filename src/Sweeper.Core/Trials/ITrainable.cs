namespace Sweeper.Core.Trials;

/// <summary>
/// One training run, driven epoch by epoch by its trial actor on a dedicated thread.
/// Implementations are not thread-safe: one thread calls every member.
/// </summary>
public interface ITrainable : IDisposable
{
    /// <summary>How many epochs the run has in all.</summary>
    int TotalEpochs { get; }

    /// <summary>Trains epoch <paramref name="epoch"/> (1-based), evaluates, and returns its metrics.</summary>
    /// <remarks>Honours <paramref name="cancellationToken"/> between steps by throwing <see cref="OperationCanceledException"/>.</remarks>
    EpochResult RunEpoch(int epoch, CancellationToken cancellationToken);
}

/// <summary>Creates the trainable for a trial. Called on the trial's dedicated thread.</summary>
public interface ITrainableFactory
{
    ITrainable Create(TrialConfig config);
}

/// <summary>The outcome of one epoch. Metric names are those of <see cref="MetricNames"/> (and any extra ones).</summary>
public sealed record EpochResult(int Epoch, IReadOnlyDictionary<string, double> Metrics, TimeSpan Duration)
{
    public double Get(string metric) => Metrics.TryGetValue(metric, out var v) ? v : double.NaN;
}

/// <summary>Standard metric names.</summary>
public static class MetricNames
{
    public const string TrainLoss = "train_loss";
    public const string TrainAccuracy = "train_accuracy";
    public const string TestLoss = "test_loss";
    public const string TestAccuracy = "test_accuracy";
    /// <summary>Loss and accuracy on the validation images held out of the training set (<c>trainable.dataset.validation</c>).</summary>
    public const string ValLoss = "val_loss";
    public const string ValAccuracy = "val_accuracy";
    public const string LearningRate = "lr";
    public const string SamplesPerSecond = "samples_per_second";
    /// <summary>Seconds of the epoch spent training and evaluating (the <c>train</c> and <c>eval</c> spans).</summary>
    public const string TrainSeconds = "train_seconds";
    public const string EvalSeconds = "eval_seconds";
}
