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

    /// <summary>Creates the trainable for one assignment of a trial, which may keep files in <paramref name="context"/>'s folders.</summary>
    ITrainable Create(TrialConfig config, TrialContext context) => Create(config);
}

/// <summary>
/// Where one assignment (attempt) of a trial may keep files: folders in the sweep's checkpoint directory, which every
/// worker reaches.
/// </summary>
/// <param name="TrialFolder">The trial's folder (<c>&lt;checkpoints&gt;/&lt;trial&gt;</c>), shared by its assignments.</param>
/// <param name="Assignment">The assignment's number (1, 2, ...).</param>
public sealed record TrialContext(string TrialFolder, int Assignment)
{
    /// <summary>This assignment's scratch folder (<c>&lt;trial folder&gt;/work/aNNNN</c>); not created here.</summary>
    public string AttemptFolder => Path.Combine(TrialFolder, "work", AssignmentName(Assignment));

    /// <summary>The name of an assignment's folders: <c>a0003</c> (its scratch folder here, its checkpoint folder in the sweep's store).</summary>
    public static string AssignmentName(int assignment) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"a{assignment:D4}");

    /// <summary>The trial's log file (<c>&lt;trial folder&gt;/trial.log</c>), appended to by every assignment.</summary>
    public string LogPath => Path.Combine(TrialFolder, "trial.log");

    /// <summary>
    /// The intra-op threads the assignment may use (libtorch's <c>set_num_threads</c> on the trial's thread), given by
    /// the worker (<c>--threads-per-trial</c>): its cores divided among its slots, at least 1.
    /// </summary>
    public int IntraOpThreads { get; init; } = 1;
}

/// <summary>The outcome of one epoch. Metric names are those of <see cref="MetricNames"/> (and any extra ones).</summary>
public sealed record EpochResult(int Epoch, IReadOnlyDictionary<string, double> Metrics, TimeSpan Duration)
{
    public double Get(string metric) => Metrics.TryGetValue(metric, out var v) ? v : double.NaN;
}
