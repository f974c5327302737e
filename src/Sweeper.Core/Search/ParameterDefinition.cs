namespace Sweeper.Core.Search;

/// <summary>
/// One swept parameter: a dotted key into the trial's settings (e.g. <c>trainable.optimizer.lr</c>),
/// its domain, and an optional condition (<c>when:</c>) that makes it active only for some values of
/// earlier parameters. An inactive parameter is absent from the assignment.
/// </summary>
public sealed record ParameterDefinition(string Key, ParameterDomain Domain, ParameterCondition? When = null)
{
    public override string ToString() => When is null ? $"{Key}: {Domain}" : $"{Key}: {Domain} when {When}";
}

/// <summary>
/// <c>when: {other.key: value or [values], …}</c>: every clause must hold; a clause holds when the
/// other parameter is active and has one of the listed values.
/// </summary>
public sealed record ParameterCondition(IReadOnlyList<ConditionClause> Clauses)
{
    /// <summary>A single-clause condition.</summary>
    public static ParameterCondition On(string key, params object[] values) => new([new ConditionClause(key, values)]);

    /// <summary>True when every clause holds for <paramref name="assignment"/> (the values chosen so far).</summary>
    public bool IsSatisfiedBy(IReadOnlyList<KeyValuePair<string, object>> assignment)
    {
        foreach (var clause in Clauses)
        {
            object? current = null;
            foreach (var kv in assignment)
                if (string.Equals(kv.Key, clause.Key, StringComparison.Ordinal)) { current = kv.Value; break; }
            if (current is null || !clause.Values.Any(v => ParameterValues.AreEqual(v, current))) return false;
        }
        return true;
    }

    public override string ToString() => "{" + string.Join(", ", Clauses) + "}";
}

/// <summary>One clause of a condition: <paramref name="Key"/> has one of <paramref name="Values"/>.</summary>
public sealed record ConditionClause(string Key, IReadOnlyList<object> Values)
{
    public override string ToString() =>
        Values.Count == 1 ? $"{Key}: {ParameterValues.Format(Values[0])}" : $"{Key}: [{string.Join(", ", Values.Select(ParameterValues.Format))}]";
}
