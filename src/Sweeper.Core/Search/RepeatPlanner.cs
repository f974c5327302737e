using Sweeper.Core.Model;

namespace Sweeper.Core.Search;

/// <summary>
/// One trial to run: a configuration, which repeat of it this is, and the trial's own seed.
/// <see cref="Id"/> is 1-based (<c>t0001</c> is the first trial), as in the grid planner of
/// <c>Sweeper.Core.Trials</c>; <see cref="TrialIndex"/> is the 0-based index it was planned with.
/// </summary>
public sealed record PlannedTrial(
    TrialId Id,
    int TrialIndex,
    int ConfigIndex,
    int RepeatIndex,
    long Seed,
    IReadOnlyList<KeyValuePair<string, object>> Parameters);

/// <summary>
/// Turns a searcher's configurations into trials for <c>repeat: N</c>: trial <c>t</c> runs
/// configuration <c>t / N</c> for the <c>t % N</c>-th time (repeats of a configuration are
/// consecutive) with seed <see cref="Seeds.ForTrial"/>(sweep seed, config, repeat). The searcher
/// observes a configuration once all its repeats have reported: the mean of their objectives, or NaN
/// (the worst) when any of them is NaN or ±∞.
/// </summary>
/// <remarks>Not thread-safe; like the searcher, it belongs to the coordinator.</remarks>
public sealed class RepeatPlanner
{
    private readonly Dictionary<int, double?[]> _reports = [];

    public RepeatPlanner(ISearcher searcher, long sweepSeed, int repeat = 1)
    {
        ArgumentNullException.ThrowIfNull(searcher);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeat, 1);
        (Searcher, SweepSeed, Repeat) = (searcher, sweepSeed, repeat);
    }

    public ISearcher Searcher { get; }
    public long SweepSeed { get; }
    public int Repeat { get; }

    /// <summary>How many trials the sweep has in all, or null when the searcher is unbounded.</summary>
    public long? TotalTrials => Searcher.Count * Repeat;

    /// <summary>The trial with 0-based index <paramref name="trialIndex"/> (its id is <c>trialIndex + 1</c>), or null when the searcher is exhausted. Idempotent.</summary>
    public PlannedTrial? Plan(int trialIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialIndex);
        int config = trialIndex / Repeat, repeat = trialIndex % Repeat;
        var suggestion = Searcher.Suggest(config);
        if (suggestion is null) return null;
        _reports.TryAdd(config, new double?[Repeat]);
        return new PlannedTrial(new TrialId(trialIndex + 1), trialIndex, config, repeat, Seeds.ForTrial(SweepSeed, config, repeat), suggestion.Parameters);
    }

    /// <summary>Records that trial <paramref name="trialIndex"/> ran with <paramref name="parameters"/> (a journaled trial's; see <see cref="ISearcher.Restore"/>).</summary>
    public void Restore(int trialIndex, IReadOnlyList<KeyValuePair<string, object>> parameters)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialIndex);
        Searcher.Restore(trialIndex / Repeat, parameters);
        _reports.TryAdd(trialIndex / Repeat, new double?[Repeat]);
    }

    /// <summary>
    /// Records trial <paramref name="trialIndex"/>'s final objective (NaN/±∞ allowed; report NaN for
    /// a trial that failed). Returns true when this completed its configuration and the searcher was
    /// told. Reporting a trial again replaces its value (and re-informs the searcher if complete).
    /// </summary>
    public bool Report(int trialIndex, double objective)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trialIndex);
        int config = trialIndex / Repeat;
        if (!_reports.TryGetValue(config, out var values))
            throw new ArgumentOutOfRangeException(nameof(trialIndex), trialIndex, "no trial was planned with this index");
        values[trialIndex % Repeat] = objective;
        if (values.Any(v => v is null)) return false;
        Searcher.Observe(config, Aggregate(values.Select(v => v!.Value).ToArray()));
        return true;
    }

    /// <summary>The mean of <paramref name="objectives"/>, or NaN when any is NaN or ±∞ (or there are none).</summary>
    public static double Aggregate(IReadOnlyList<double> objectives)
    {
        if (objectives.Count == 0) return double.NaN;
        double sum = 0;
        foreach (double v in objectives)
        {
            if (!double.IsFinite(v)) return double.NaN;
            sum += v;
        }
        return sum / objectives.Count;
    }
}
