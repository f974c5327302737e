using System.Collections;

namespace Sweeper.Core.Search;

/// <summary>A problem with a search space, by parameter key (the loader maps keys to file positions).</summary>
public sealed record SearchSpaceError(string Key, string Message)
{
    public override string ToString() => $"{Key}: {Message}";
}

/// <summary>Thrown when a search space or a searcher's settings are invalid; <see cref="Errors"/> lists every problem found.</summary>
public sealed class SearchSpaceException(IReadOnlyList<SearchSpaceError> errors)
    : Exception("invalid search space: " + string.Join("; ", errors))
{
    public IReadOnlyList<SearchSpaceError> Errors { get; } = errors;
}

/// <summary>
/// The ordered, validated parameters of a sweep. Spec order matters: grids vary the first key
/// slowest, and a condition may only refer to a parameter defined before it, which rules out cycles
/// and lets every searcher decide activity while it assigns values in order.
/// </summary>
public sealed class SearchSpace : IReadOnlyList<ParameterDefinition>
{
    private readonly ParameterDefinition[] _parameters;

    /// <summary>Validates and wraps <paramref name="parameters"/>; throws <see cref="SearchSpaceException"/> listing every error.</summary>
    public SearchSpace(IEnumerable<ParameterDefinition> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters.ToArray();
        var errors = Validate(_parameters);
        if (errors.Count > 0) throw new SearchSpaceException(errors);
    }

    public SearchSpace(params ParameterDefinition[] parameters) : this((IEnumerable<ParameterDefinition>)parameters) { }

    public int Count => _parameters.Length;
    public ParameterDefinition this[int index] => _parameters[index];
    public IEnumerator<ParameterDefinition> GetEnumerator() => ((IEnumerable<ParameterDefinition>)_parameters).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>True when no parameter has a condition.</summary>
    public bool IsUnconditional => _parameters.All(p => p.When is null);

    /// <summary>The position of <paramref name="key"/>, or −1.</summary>
    public int IndexOf(string key) => Array.FindIndex(_parameters, p => string.Equals(p.Key, key, StringComparison.Ordinal));

    /// <summary>True when <paramref name="parameter"/> is active given the values assigned so far (to earlier parameters).</summary>
    public static bool IsActive(ParameterDefinition parameter, IReadOnlyList<KeyValuePair<string, object>> assignedSoFar) =>
        parameter.When is null || parameter.When.IsSatisfiedBy(assignedSoFar);

    /// <summary>
    /// Every problem with <paramref name="parameters"/>: empty or duplicate keys; conditions with no
    /// values, on unknown, later or continuous parameters, or naming values the other parameter can't take.
    /// </summary>
    public static IReadOnlyList<SearchSpaceError> Validate(IEnumerable<ParameterDefinition> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = parameters.ToList();
        var errors = new List<SearchSpaceError>();
        var seen = new Dictionary<string, ParameterDefinition>(StringComparer.Ordinal);
        foreach (var p in list)
        {
            if (p is null) { errors.Add(new("<null>", "parameter definition is null")); continue; }
            string key = p.Key ?? "";
            if (string.IsNullOrWhiteSpace(key) || key.Any(char.IsWhiteSpace) || key.StartsWith('.') || key.EndsWith('.') || key.Contains(".."))
                errors.Add(new(key, "a key must be a non-empty dotted name without spaces"));
            if (p.Domain is null) errors.Add(new(key, "no domain"));
            if (seen.ContainsKey(key)) { errors.Add(new(key, "defined twice")); continue; }

            if (p.When is { } when)
            {
                if (when.Clauses is null || when.Clauses.Count == 0) errors.Add(new(key, "'when' has no clauses"));
                foreach (var clause in when.Clauses ?? [])
                {
                    if (string.Equals(clause.Key, key, StringComparison.Ordinal))
                    { errors.Add(new(key, "'when' refers to the parameter itself")); continue; }
                    if (!seen.TryGetValue(clause.Key, out var other))
                    {
                        bool later = list.Any(q => q is not null && string.Equals(q.Key, clause.Key, StringComparison.Ordinal));
                        errors.Add(new(key, later
                            ? $"'when' refers to '{clause.Key}', which is defined after '{key}'; define it first"
                            : $"'when' refers to '{clause.Key}', which is not a swept parameter"));
                        continue;
                    }
                    if (clause.Values is null || clause.Values.Count == 0)
                    { errors.Add(new(key, $"'when' on '{clause.Key}' lists no values")); continue; }
                    if (other.Domain is { IsFinite: false })
                    { errors.Add(new(key, $"'when' refers to '{clause.Key}', whose domain {other.Domain} is continuous; conditions need a finite domain")); continue; }
                    foreach (var v in clause.Values)
                        if (v is null || other.Domain is not null && !other.Domain.Contains(v))
                            errors.Add(new(key, $"'when' on '{clause.Key}' lists {(v is null ? "null" : ParameterValues.Format(v))}, which {other.Domain} never takes"));
                }
            }
            seen[key] = p;
        }
        return errors;
    }
}
