using Sweeper.Core.Search;
using Sweeper.Core.Spec;

namespace Sweeper.Core.Trials;

/// <summary>
/// Where a coordinator's trials come from: created one at a time, as slots free up, so that adaptive searchers
/// (TPE) see the results so far. Belongs to the coordinator; not thread-safe.
/// </summary>
public interface ITrialSource
{
    /// <summary>How many trials the sweep has in all, when known.</summary>
    long? Total { get; }

    /// <summary>The trial with 0-based <paramref name="index"/> (id <c>index + 1</c>), or null when there are no more. Idempotent.</summary>
    TrialConfig? Create(int index);

    /// <summary>A trial's final objective (NaN for a trial that failed), for the searcher.</summary>
    void Report(TrialConfig trial, double objective);
}

/// <summary>
/// The trials of a spec: its searcher over its parameters, each configuration repeated, capped by <c>stop.max_trials</c>
/// or, once the sweep was extended (<c>sweeper resume --extend</c>), by the extended trial limit.
/// </summary>
public sealed class SpecTrialSource : ITrialSource
{
    private readonly SweepSpec _spec;
    private readonly RepeatPlanner _planner;
    private readonly long? _limit;

    /// <param name="trialLimit">
    /// The number of trials in all of an extended sweep (its journal's <c>trial_limit</c>): a random or TPE searcher then
    /// proposes configurations up to it, past <c>search.num_samples</c> and <c>stop.max_trials</c>. Ignored for a grid.
    /// </param>
    public SpecTrialSource(SweepSpec spec, long? trialLimit = null)
    {
        _spec = spec;
        if (!Searchers.TryParse(spec.Search.Algorithm, out var algorithm))
            throw new ArgumentException($"unknown search algorithm '{spec.Search.Algorithm}'", nameof(spec));
        _limit = algorithm == SearchAlgorithm.Grid ? null : trialLimit;
        var space = new SearchSpace(spec.Parameters.Select(p => p.Definition));
        var numSamples = _limit is null ? spec.Search.NumSamples : null; // the limit caps them; suggestions do not depend on the count
        _planner = new RepeatPlanner(Searchers.Create(algorithm, space, spec.Objective.Mode, spec.Seed, numSamples), spec.Seed, spec.Search.Repeat);
    }

    public long? Total => _limit ?? (_planner.TotalTrials, _spec.Stop.MaxTrials) switch
    {
        ({ } t, { } m) => Math.Min(t, m),
        (var t, var m) => t ?? m,
    };

    public TrialConfig? Create(int index)
    {
        if (index >= Total) return null;
        var planned = _planner.Plan(index);
        if (planned is null) return null;
        return new TrialConfig
        {
            Id = planned.Id,
            Seed = planned.Seed,
            Parameters = planned.Parameters,
            Trainable = SpecLoader.Apply(_spec, planned.Parameters).Trainable,
            ConfigIndex = planned.ConfigIndex,
            Repeat = planned.RepeatIndex,
        };
    }

    public void Report(TrialConfig trial, double objective)
    {
        // The trial's own parameters: after a restart the planner learns of journaled trials here (see Restore).
        _planner.Restore(trial.Id.Index - 1, trial.Parameters);
        _planner.Report(trial.Id.Index - 1, objective);
    }

    /// <summary>
    /// Restores the configurations of journaled trials (<see cref="ISearcher.Restore"/>) before a resumed coordinator
    /// replays their results or creates trials after them: a configuration whose repeats are still to run is proposed as it ran.
    /// </summary>
    public void Restore(IEnumerable<TrialConfig> trials)
    {
        foreach (var t in trials) _planner.Restore(t.Id.Index - 1, t.Parameters);
    }

    /// <summary>The first <paramref name="limit"/> trials a spec would run, as planned before any result.</summary>
    public static IReadOnlyList<TrialConfig> Preview(SweepSpec spec, int limit)
    {
        var source = new SpecTrialSource(spec);
        var trials = new List<TrialConfig>();
        for (int i = 0; i < limit && source.Create(i) is { } t; i++) trials.Add(t);
        return trials;
    }
}

/// <summary>A fixed list of trials (tests, benchmarks).</summary>
public sealed class FixedTrialSource(IReadOnlyList<TrialConfig> trials) : ITrialSource
{
    public long? Total => trials.Count;

    public TrialConfig? Create(int index) => index < trials.Count ? trials[index] : null;

    public void Report(TrialConfig trial, double objective) { }
}
