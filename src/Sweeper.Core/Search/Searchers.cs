using Sweeper.Core.Search.Tpe;
using Sweeper.Core.Model;

namespace Sweeper.Core.Search;

/// <summary>The search algorithms a spec can name.</summary>
public enum SearchAlgorithm { Grid, Random, Tpe }

/// <summary>Creates searchers by algorithm name, for the spec loader and the coordinator.</summary>
public static class Searchers
{
    /// <summary>The spec names: <c>grid</c>, <c>random</c>, <c>tpe</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["grid", "random", "tpe"];

    /// <summary>Parses a spec name (case-sensitive, as YAML keys are).</summary>
    public static bool TryParse(string? name, out SearchAlgorithm algorithm)
    {
        switch (name)
        {
            case "grid": algorithm = SearchAlgorithm.Grid; return true;
            case "random": algorithm = SearchAlgorithm.Random; return true;
            case "tpe": algorithm = SearchAlgorithm.Tpe; return true;
            default: algorithm = default; return false;
        }
    }

    /// <summary>Problems with running <paramref name="space"/> under <paramref name="algorithm"/> (e.g. a continuous domain in a grid without num_samples).</summary>
    public static IReadOnlyList<SearchSpaceError> Validate(SearchAlgorithm algorithm, SearchSpace space, int? numSamples)
    {
        ArgumentNullException.ThrowIfNull(space);
        if (algorithm == SearchAlgorithm.Grid) return GridSearcher.Validate(space, numSamples);
        return numSamples is < 0 ? [new SearchSpaceError("num_samples", $"must not be negative, got {numSamples}")] : [];
    }

    /// <summary>
    /// A searcher over <paramref name="space"/>. <paramref name="numSamples"/>: for grid, passes over
    /// the grid (required with continuous domains); for random and TPE, the number of
    /// configurations (null: unbounded). Throws <see cref="SearchSpaceException"/> on invalid settings.
    /// </summary>
    public static ISearcher Create(SearchAlgorithm algorithm, SearchSpace space, ObjectiveMode mode, long seed, int? numSamples = null, TpeOptions? tpe = null) =>
        algorithm switch
        {
            SearchAlgorithm.Grid => new GridSearcher(space, mode, seed, numSamples),
            SearchAlgorithm.Random => new RandomSearcher(space, mode, seed, numSamples),
            SearchAlgorithm.Tpe => new TpeSearcher(space, mode, seed, numSamples, tpe),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
        };
}
