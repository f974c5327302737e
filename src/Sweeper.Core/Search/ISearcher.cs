using Sweeper.Core.Model;

namespace Sweeper.Core.Search;

/// <summary>One configuration proposed by a searcher: the active parameters, by dotted key, in spec order.</summary>
public sealed record Suggestion(int Index, IReadOnlyList<KeyValuePair<string, object>> Parameters)
{
    /// <summary>The value of <paramref name="key"/>, or null when the parameter is inactive or unknown.</summary>
    public object? this[string key]
    {
        get
        {
            foreach (var kv in Parameters)
                if (string.Equals(kv.Key, key, StringComparison.Ordinal)) return kv.Value;
            return null;
        }
    }

    public override string ToString() => $"#{Index} {ParameterValues.Format(Parameters)}";
}

/// <summary>
/// Proposes configurations and learns from their objectives. A pure decision-maker: no actors, no I/O.
/// Not thread-safe: one caller (the coordinator) makes every call.
/// </summary>
/// <remarks>
/// <para><see cref="Suggest"/> is idempotent: asking again for an index returns the same suggestion.
/// Every random choice for index <c>i</c> comes from a generator seeded by <c>(seed, i)</c>, so a
/// suggestion depends only on the seed, the index and (for adaptive searchers) the observations
/// made before it was first asked for. A restarted coordinator rebuilds a searcher by replaying the
/// journal's Suggest/Observe calls in their original order.</para>
/// </remarks>
public interface ISearcher
{
    /// <summary>The parameters this searcher assigns.</summary>
    SearchSpace Space { get; }

    /// <summary>Whether the objective is maximised or minimised.</summary>
    ObjectiveMode Mode { get; }

    /// <summary>How many configurations the searcher will propose in all, or null when unbounded.</summary>
    long? Count { get; }

    /// <summary>The configuration with index <paramref name="index"/> (0-based), or null when the searcher is exhausted.</summary>
    Suggestion? Suggest(int index);

    /// <summary>
    /// Records the objective of configuration <paramref name="index"/>. NaN and ±∞ are accepted and
    /// count as the worst possible result. Observing an index again replaces the earlier value.
    /// Throws <see cref="ArgumentOutOfRangeException"/> when <paramref name="index"/> was never suggested.
    /// </summary>
    void Observe(int index, double objective);

    /// <summary>
    /// Records that configuration <paramref name="index"/> was proposed with <paramref name="parameters"/> (a journaled
    /// trial's): <see cref="Suggest"/> returns them from now on, and an adaptive searcher learns their objective for
    /// them. A resumed coordinator restores its journal's configurations before replaying their results: an adaptive
    /// searcher, asked again, might propose something else than what ran.
    /// </summary>
    void Restore(int index, IReadOnlyList<KeyValuePair<string, object>> parameters);
}

/// <summary>Caching, bookkeeping and validation shared by the searchers.</summary>
public abstract class SearcherBase : ISearcher
{
    private readonly Dictionary<int, Suggestion?> _suggestions = [];
    private readonly SortedDictionary<int, double> _observations = [];

    protected SearcherBase(SearchSpace space, ObjectiveMode mode, long seed)
    {
        ArgumentNullException.ThrowIfNull(space);
        (Space, Mode, Seed) = (space, mode, seed);
    }

    public SearchSpace Space { get; }
    public ObjectiveMode Mode { get; }
    /// <summary>The searcher's seed; configuration <c>i</c> is sampled with <see cref="Seeds.ForSuggestion"/>(Seed, i).</summary>
    public long Seed { get; }
    public abstract long? Count { get; }

    /// <summary>Observed objectives by configuration index (raw values, NaN and ±∞ included).</summary>
    public IReadOnlyDictionary<int, double> Observations => _observations;

    public Suggestion? Suggest(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (_suggestions.TryGetValue(index, out var cached)) return cached;
        var suggestion = Count is { } n && index >= n ? null : Create(index, new SeededRandom(Seeds.ForSuggestion(Seed, index)));
        _suggestions[index] = suggestion;
        return suggestion;
    }

    public void Observe(int index, double objective)
    {
        if (!_suggestions.TryGetValue(index, out var s) || s is null)
            throw new ArgumentOutOfRangeException(nameof(index), index, "no configuration was suggested with this index");
        _observations[index] = objective;
    }

    public void Restore(int index, IReadOnlyList<KeyValuePair<string, object>> parameters)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentNullException.ThrowIfNull(parameters);
        _suggestions[index] = new Suggestion(index, parameters);
    }

    /// <summary>The suggestion made for <paramref name="index"/>, if any.</summary>
    protected Suggestion? Suggested(int index) => _suggestions.GetValueOrDefault(index);

    /// <summary>Creates the suggestion for <paramref name="index"/> (never called twice for an index).</summary>
    protected abstract Suggestion? Create(int index, Random random);

    /// <summary>Samples every active parameter of <paramref name="space"/> in order from its domain.</summary>
    public static IReadOnlyList<KeyValuePair<string, object>> SampleConfiguration(SearchSpace space, Random random)
    {
        ArgumentNullException.ThrowIfNull(space);
        var assignment = new List<KeyValuePair<string, object>>(space.Count);
        foreach (var p in space)
            if (SearchSpace.IsActive(p, assignment))
                assignment.Add(new(p.Key, p.Domain.Sample(random)));
        return assignment;
    }
}
