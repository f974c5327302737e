using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Core.Scheduling;

/// <summary>Settings of <see cref="MedianStoppingScheduler"/>.</summary>
public sealed record MedianStoppingOptions
{
    /// <summary>No trial is stopped at or before this iteration; running averages start here.</summary>
    public int GracePeriod { get; init; } = 1;

    /// <summary>How many other trials must have reached the iteration before a trial is judged (Ray's default: 3).</summary>
    public int MinSamplesRequired { get; init; } = 3;

    internal void Validate()
    {
        if (GracePeriod < 0) throw new ArgumentOutOfRangeException(nameof(GracePeriod), GracePeriod, "grace_period must not be negative");
        if (MinSamplesRequired < 1) throw new ArgumentOutOfRangeException(nameof(MinSamplesRequired), MinSamplesRequired, "min_samples_required must be at least 1");
    }
}

/// <summary>
/// Median stopping rule (Golovin et al. 2017, "Google Vizier"), as Ray Tune's <c>MedianStoppingRule</c>:
/// a trial is stopped at iteration t (after the grace period, once at least min_samples_required
/// other trials have reached t) when its best value so far is worse than the median of the other
/// trials' running averages over [grace_period, t].
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>NaN and ±∞ count as the worst value: a running average containing one is the worst
/// possible, and a trial reporting one is stopped whenever it is judged.</item>
/// <item>Finished and stopped trials keep counting as others (Ray does the same).</item>
/// <item>A result at an iteration not after the trial's last is a restart from a checkpoint: the
/// trial's later results are discarded first.</item>
/// <item>A trial already stopped stays stopped.</item>
/// </list>
/// </remarks>
public sealed class MedianStoppingScheduler : ITrialScheduler
{
    private readonly ObjectiveMode _mode;
    private readonly Dictionary<TrialId, List<(int Iteration, double Score)>> _results = [];
    private readonly HashSet<TrialId> _stopped = [];

    public MedianStoppingScheduler(ObjectiveMode mode, MedianStoppingOptions? options = null)
    {
        Options = options ?? new MedianStoppingOptions();
        Options.Validate();
        _mode = mode;
    }

    public string Name => "median_stopping";
    public MedianStoppingOptions Options { get; }

    public SchedulerDecision OnResult(TrialId trial, int iteration, double value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(iteration);
        if (_stopped.Contains(trial)) return SchedulerDecision.Stop("already stopped by the median rule");

        if (!_results.TryGetValue(trial, out var history)) _results[trial] = history = [];
        history.RemoveAll(r => r.Iteration >= iteration);
        history.Add((iteration, _mode.Rank(value)));

        if (iteration <= Options.GracePeriod)
            return SchedulerDecision.Continue($"within the grace period ({Options.GracePeriod})");

        var averages = new List<double>();
        foreach (var (other, results) in _results)
        {
            if (other == trial || results[^1].Iteration < iteration) continue;
            if (RunningAverage(results, iteration) is { } average) averages.Add(average);
        }
        if (averages.Count < Options.MinSamplesRequired)
            return SchedulerDecision.Continue($"{averages.Count} other trials reached iteration {iteration}; {Options.MinSamplesRequired} needed");

        if (!double.IsFinite(value))
            return Stopped(trial, $"value {value} is not a number that can be ranked");

        double median = Median(averages);
        double best = history.Max(r => r.Score);
        string stats = $"best {Orientation.Format(_mode.Orient(best))} vs median running average {Orientation.Format(_mode.Orient(median))} of {averages.Count} other trials";
        return best < median ? Stopped(trial, $"{stats} at iteration {iteration}") : SchedulerDecision.Continue(stats);
    }

    private SchedulerDecision Stopped(TrialId trial, string reason)
    {
        _stopped.Add(trial);
        return SchedulerDecision.Stop(reason);
    }

    /// <summary>Mean score over results with grace ≤ iteration ≤ <paramref name="upTo"/>; null when there are none.</summary>
    private double? RunningAverage(List<(int Iteration, double Score)> results, int upTo)
    {
        double sum = 0;
        int n = 0;
        foreach (var (iteration, score) in results)
        {
            if (iteration < Options.GracePeriod || iteration > upTo) continue;
            if (double.IsNegativeInfinity(score)) return double.NegativeInfinity;
            sum += score;
            n++;
        }
        return n == 0 ? null : sum / n;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int mid = values.Count / 2;
        if (values.Count % 2 == 1) return values[mid];
        // Only −∞ can appear (scores are finite or −∞); −∞ + x stays −∞ without NaN.
        return values[mid - 1] / 2 + values[mid] / 2;
    }
}
