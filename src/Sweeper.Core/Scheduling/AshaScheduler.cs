using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Core.Scheduling;

/// <summary>Settings of <see cref="AshaScheduler"/>; the defaults are Ray Tune's.</summary>
public sealed record AshaOptions
{
    /// <summary>The first rung's milestone: no trial is stopped before this many iterations.</summary>
    public int GracePeriod { get; init; } = 1;

    /// <summary>η: a trial continues past a rung only if it is in the top 1/η there; milestones grow by η.</summary>
    public int ReductionFactor { get; init; } = 4;

    /// <summary>Iterations after which every trial is stopped (it has finished its budget).</summary>
    public int MaxT { get; init; } = 100;

    internal void Validate()
    {
        if (GracePeriod < 1) throw new ArgumentOutOfRangeException(nameof(GracePeriod), GracePeriod, "grace_period must be at least 1");
        if (ReductionFactor < 2) throw new ArgumentOutOfRangeException(nameof(ReductionFactor), ReductionFactor, "reduction_factor must be at least 2");
        if (MaxT < GracePeriod) throw new ArgumentOutOfRangeException(nameof(MaxT), MaxT, "max_t must not be less than grace_period");
    }
}

/// <summary>
/// Asynchronous successive halving (Li et al. 2018, "A System for Massively Parallel Hyperparameter
/// Tuning"), one bracket, as Ray Tune's <c>AsyncHyperBandScheduler</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Rungs sit at milestones grace·η^k below max_t. A trial is judged once per rung, at its
/// first result with iteration ≥ the milestone, with that result's value. A result that jumps
/// past several rungs is judged at the highest; rungs skipped are not judged afterwards.</item>
/// <item>At a rung, the cutoff is the (1 − 1/η) quantile (linear interpolation, as numpy's
/// percentile) of the values recorded there so far by other trials; the trial continues if its
/// value is at least as good, and its value is recorded. The first trial at a rung continues.</item>
/// <item>At iteration ≥ max_t the trial is stopped: its budget is spent.</item>
/// <item>A NaN or ±∞ value at a rung stops the trial and is not recorded (like Ray's
/// <c>nanpercentile</c>); between rungs it is not judged.</item>
/// <item>Decisions at rungs already passed stand when a trial restarts from a checkpoint; a
/// stopped trial that reports again is told to stop again.</item>
/// </list>
/// </remarks>
public sealed class AshaScheduler : ITrialScheduler
{
    private readonly ObjectiveMode _mode;
    private readonly long[] _milestones;
    private readonly List<double>[] _recorded;             // per rung: sorted scores (higher is better)
    private readonly Dictionary<TrialId, int> _lastRung = []; // highest rung a trial was judged at
    private readonly HashSet<TrialId> _stopped = [];

    public AshaScheduler(ObjectiveMode mode, AshaOptions? options = null)
    {
        Options = options ?? new AshaOptions();
        Options.Validate();
        _mode = mode;
        var milestones = new List<long>();
        for (long m = Options.GracePeriod; m < Options.MaxT; m *= Options.ReductionFactor) milestones.Add(m);
        _milestones = [.. milestones];
        _recorded = _milestones.Select(_ => new List<double>()).ToArray();
    }

    public string Name => "asha";
    public AshaOptions Options { get; }

    /// <summary>The rung milestones, ascending: grace·η^k &lt; max_t.</summary>
    public IReadOnlyList<long> Milestones => _milestones;

    /// <summary>How many values are recorded at rung <paramref name="rung"/>.</summary>
    public int RecordedAt(int rung) => _recorded[rung].Count;

    public SchedulerDecision OnResult(TrialId trial, int iteration, double value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(iteration);
        if (_stopped.Contains(trial))
            return SchedulerDecision.Stop("already stopped", _lastRung[trial], _milestones[_lastRung[trial]]);
        if (iteration >= Options.MaxT)
            return SchedulerDecision.Stop($"reached max_t={Options.MaxT} (iteration {iteration})");

        int rung = -1;
        for (int r = _milestones.Length - 1; r >= 0; r--)
            if (iteration >= _milestones[r]) { rung = r; break; }
        if (rung < 0)
            return SchedulerDecision.Continue($"before the first rung (t={_milestones.FirstOrDefault()})");
        int last = _lastRung.GetValueOrDefault(trial, -1);
        if (rung <= last)
            return SchedulerDecision.Continue($"already promoted at rung {last}; next rung {NextMilestone(last)}", last, _milestones[last]);
        _lastRung[trial] = rung;

        long milestone = _milestones[rung];
        if (!double.IsFinite(value))
            return Stopped(trial, $"value {value} is not a number that can be ranked", rung);

        double score = _mode.Rank(value);
        var recorded = _recorded[rung];
        if (recorded.Count == 0)
        {
            Insert(recorded, score);
            return SchedulerDecision.Continue("first trial at this rung", rung, milestone);
        }

        double cutoff = Quantile(recorded, 1.0 - 1.0 / Options.ReductionFactor);
        int others = recorded.Count;
        Insert(recorded, score);
        string cut = Orientation.Format(_mode.Orient(cutoff));
        return score >= cutoff
            ? SchedulerDecision.Continue($"{Orientation.Format(value)} is in the top 1/{Options.ReductionFactor} (cutoff {cut} over {others} other trials)", rung, milestone)
            : Stopped(trial, $"{Orientation.Format(value)} is outside the top 1/{Options.ReductionFactor} (cutoff {cut} over {others} other trials)", rung);
    }

    private SchedulerDecision Stopped(TrialId trial, string reason, int rung)
    {
        _stopped.Add(trial);
        return SchedulerDecision.Stop(reason, rung, _milestones[rung]);
    }

    private string NextMilestone(int rung) => rung + 1 < _milestones.Length ? $"t={_milestones[rung + 1]}" : $"none before max_t={Options.MaxT}";

    private static void Insert(List<double> sorted, double x)
    {
        int i = sorted.BinarySearch(x);
        sorted.Insert(i < 0 ? ~i : i, x);
    }

    /// <summary>The <paramref name="p"/> quantile of ascending <paramref name="sorted"/>, interpolating linearly (numpy's default).</summary>
    internal static double Quantile(IReadOnlyList<double> sorted, double p)
    {
        double h = (sorted.Count - 1) * p;
        int lo = (int)Math.Floor(h);
        if (lo >= sorted.Count - 1) return sorted[^1];
        return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
    }
}
