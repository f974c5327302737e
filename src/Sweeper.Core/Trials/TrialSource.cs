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

/// <summary>The trials of a spec: its searcher over its parameters, each configuration repeated, capped by <c>stop.max_trials</c>.</summary>
public sealed class SpecTrialSource : ITrialSource
{
    private readonly SweepSpec _spec;
    private readonly RepeatPlanner _planner;

    public SpecTrialSource(SweepSpec spec)
    {
        _spec = spec;
        if (!Searchers.TryParse(spec.Search.Algorithm, out var algorithm))
            throw new ArgumentException($"unknown search algorithm '{spec.Search.Algorithm}'", nameof(spec));
        var space = new SearchSpace(spec.Parameters.Select(p => p.Definition));
        _planner = new RepeatPlanner(Searchers.Create(algorithm, space, spec.Objective.Mode, spec.Seed, spec.Search.NumSamples), spec.Seed, spec.Search.Repeat);
    }

    public long? Total => (_planner.TotalTrials, _spec.Stop.MaxTrials) switch
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
        _planner.Plan(trial.Id.Index - 1); // after a restart the planner learns of journaled trials here (Plan is idempotent)
        _planner.Report(trial.Id.Index - 1, objective);
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
