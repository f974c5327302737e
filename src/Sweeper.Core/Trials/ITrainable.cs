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
