using System.Collections;
using System.Diagnostics.CodeAnalysis;
using Sweeper.Core.Search;

namespace Sweeper.Core.Stability;

/// <summary>Finds the original (attempt 1) value of a dotted key; false when the key names nothing.</summary>
public delegate bool ParameterLookup(string key, out object? value);

/// <summary>
/// The changes a rule declares, in order. Each restart applies the whole set once more to the values of the
/// previous attempt, so changes are cumulative: attempt 1 is the original run, attempt n has had the set applied
/// n − 1 times. Pure: values are computed from the original values, never read from a running trial.
/// </summary>
/// <remarks>
/// <para>Values are <see cref="string"/>, <see cref="bool"/>, <see cref="long"/> or <see cref="double"/>
/// (other integer and floating types are normalised), or null for an unset nullable key (which only a set fits).</para>
/// <para>Type rules: multiply and add fit numbers only; an integer stays an integer (multiplying 100 by 0.5
/// three times gives 12.5: an error naming the restart) and adding to an integer needs a whole number. A set
/// fits a value of its own type; a number set on a floating value, a whole number on an integer, and a set
/// written as text on a string value (the text is the new string).</para>
/// </remarks>
public sealed class ChangeSet : IReadOnlyList<ParameterChange>, IEquatable<ChangeSet>
{
    private readonly ParameterChange[] _changes;

    public ChangeSet(IEnumerable<ParameterChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        _changes = [.. changes];
        foreach (var c in _changes) ArgumentNullException.ThrowIfNull(c, nameof(changes));
    }

    public static ChangeSet Empty { get; } = new([]);

    /// <summary>Parses changes in the grammar of <see cref="ParameterChange"/>; throws <see cref="FormatException"/> listing every error.</summary>
    public static ChangeSet Parse(params (string Key, object? Value)[] changes)
    {
        var set = Parse(changes.Select(c => new KeyValuePair<string, object?>(c.Key, c.Value)), out var errors);
        return errors.Count == 0 ? set : throw new FormatException(string.Join("; ", errors));
    }

    /// <summary>
    /// Parses (key, value) entries, as a YAML list of single-entry mappings or a mapping gives them. Errors have the
    /// key path <c>changes[i]</c> (i 0-based in entry order) and a message starting with the change's key.
    /// </summary>
    public static ChangeSet Parse(IEnumerable<KeyValuePair<string, object?>> entries, out IReadOnlyList<StabilityConfigError> errors)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var list = new List<ParameterChange>();
        var problems = new List<StabilityConfigError>();
        int i = 0;
        foreach (var (key, value) in entries)
        {
            if (ParameterChange.TryParse(key, value, out var change, out var error)) list.Add(change);
            else problems.Add(new StabilityConfigError($"changes[{i}]", error!));
            i++;
        }
        errors = problems;
        return new ChangeSet(list);
    }

    public int Count => _changes.Length;
    public ParameterChange this[int index] => _changes[index];
    public IEnumerator<ParameterChange> GetEnumerator() => ((IEnumerable<ParameterChange>)_changes).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The keys changed, each once, in order of first appearance.</summary>
    public IReadOnlyList<string> Keys => _changes.Select(c => c.Key).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The values of the changed keys for <paramref name="attempt"/> (1-based; 1 is the original run).</summary>
    /// <exception cref="ArgumentException">A key names no parameter, or a change does not fit its value (the message says which and at which restart).</exception>
    public IReadOnlyList<KeyValuePair<string, object?>> Apply(IReadOnlyList<KeyValuePair<string, object>> originals, int attempt) =>
        Apply(Lookup(originals), attempt);

    /// <inheritdoc cref="Apply(IReadOnlyList{KeyValuePair{string, object}}, int)"/>
    public IReadOnlyList<KeyValuePair<string, object?>> Apply(ParameterLookup originals, int attempt) =>
        TryApply(originals, attempt, out var values, out var error) ? values : throw new ArgumentException(error, nameof(originals));

    /// <summary>As <see cref="Apply(ParameterLookup, int)"/>, returning the error message instead of throwing.</summary>
    public bool TryApply(ParameterLookup originals, int attempt, [NotNullWhen(true)] out IReadOnlyList<KeyValuePair<string, object?>>? values, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(originals);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        var state = new ChangeState(originals);
        values = null;
        if (!state.Load(this, out error)) return false;
        for (int restart = 1; restart < attempt; restart++)
            if (!state.ApplyOnce(this, restart, out error)) return false;
        values = state.Values();
        return true;
    }

    /// <summary>Applies the set 1..<paramref name="maxRestarts"/> times to the originals; the first problem, or null. For spec validation.</summary>
    public string? Check(ParameterLookup originals, int maxRestarts) =>
        TryApply(originals, maxRestarts + 1, out _, out var error) ? null : error;

    /// <summary>A lookup over a trial's parameter list (first entry wins).</summary>
    public static ParameterLookup Lookup(IReadOnlyList<KeyValuePair<string, object>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return (string key, out object? value) =>
        {
            foreach (var (k, v) in parameters)
                if (string.Equals(k, key, StringComparison.Ordinal)) { value = v; return true; }
            value = null;
            return false;
        };
    }

    /// <summary><c>trainable.optimizer.lr: *0.5, trainable.quantizer.stable_scale: true</c>, or <c>no changes</c>.</summary>
    public override string ToString() => _changes.Length == 0 ? "no changes" : string.Join(", ", _changes.Select(c => c.ToString()));

    public bool Equals(ChangeSet? other) => other is not null && _changes.SequenceEqual(other._changes);
    public override bool Equals(object? obj) => Equals(obj as ChangeSet);
    public override int GetHashCode() => _changes.Aggregate(_changes.Length, (h, c) => HashCode.Combine(h, c));

    /// <summary>The current values of changed keys while changes are applied restart after restart.</summary>
    internal sealed class ChangeState(ParameterLookup originals)
    {
        private readonly Dictionary<string, object?> _current = new(StringComparer.Ordinal);
        private readonly List<string> _order = [];

        /// <summary>Reads the original value of every key of <paramref name="set"/> not yet known.</summary>
        public bool Load(ChangeSet set, [NotNullWhen(false)] out string? error)
        {
            foreach (var change in set._changes)
            {
                if (_current.ContainsKey(change.Key)) continue;
                if (!originals(change.Key, out var value))
                {
                    error = $"{change.Key}: no such parameter or setting to change";
                    return false;
                }
                if (value is not null)
                {
                    try { value = ParameterValues.Normalize(value); }
                    catch (ArgumentException ex)
                    {
                        error = $"{change.Key}: {ex.Message}";
                        return false;
                    }
                }
                _current[change.Key] = value;
                _order.Add(change.Key);
            }
            error = null;
            return true;
        }

        /// <summary>Applies every change of <paramref name="set"/> once, in order; <paramref name="restart"/> names the restart in errors.</summary>
        public bool ApplyOnce(ChangeSet set, int restart, [NotNullWhen(false)] out string? error)
        {
            if (!Load(set, out error)) return false;
            foreach (var change in set._changes)
            {
                if (!TryApply(change, _current[change.Key], restart, out var next, out error)) return false;
                _current[change.Key] = next;
            }
            return true;
        }

        public IReadOnlyList<KeyValuePair<string, object?>> Values() =>
            _order.Select(k => new KeyValuePair<string, object?>(k, _current[k])).ToList();
    }

    private static bool TryApply(ParameterChange change, object? value, int restart, out object? next, [NotNullWhen(false)] out string? error)
    {
        next = null;
        error = null;
        string at = restart == 1 ? "at the first restart" : $"at restart {restart}";
        string head = $"{change.Key}: '{change.Text}'";
        switch (change.Operation)
        {
            case ChangeOperation.Multiply or ChangeOperation.Add:
            {
                double operand = (double)change.Operand;
                string verb = change.Operation == ChangeOperation.Multiply ? "multiplies" : "adds to";
                switch (value)
                {
                    case double d:
                    {
                        double r = change.Operation == ChangeOperation.Multiply ? d * operand : d + operand;
                        if (!double.IsFinite(r)) { error = $"{head} {at} turns {ParameterValues.Format(d)} into {ParameterValues.Format(r)}, which is not a finite number"; return false; }
                        next = r;
                        return true;
                    }
                    case long l:
                    {
                        if (change.Operation == ChangeOperation.Add && operand != Math.Floor(operand))
                        {
                            error = $"{head} adds {ParameterValues.Format(operand)} to the integer {l}; an integer needs a whole number, as in '+1'";
                            return false;
                        }
                        double r = change.Operation == ChangeOperation.Multiply ? l * operand : l + operand;
                        if (r != Math.Floor(r) || Math.Abs(r) >= 9.2e18)
                        {
                            error = $"{head} {at} turns the integer {l} into {ParameterValues.Format(r)}, which is not an integer";
                            return false;
                        }
                        next = (long)r;
                        return true;
                    }
                    default:
                        error = $"{head} {verb} a number, but the value is {ParameterChange.Describe(value)}";
                        return false;
                }
            }
            default:
            {
                object operand = change.Operand;
                next = value switch
                {
                    null => operand,
                    string => change.SetText ?? (operand as string),
                    bool => operand as bool?,
                    long => operand switch
                    {
                        long l => l,
                        double d when d == Math.Floor(d) && Math.Abs(d) < 9.2e18 => (long)d,
                        _ => null,
                    },
                    double => operand switch
                    {
                        double d => d,
                        long l => (double)l,
                        _ => null,
                    },
                    _ => null,
                };
                if (next is null)
                    error = $"{head} sets {ParameterChange.Describe(operand)}, which does not fit: the value is {ParameterChange.Describe(value)}";
                return next is not null;
            }
        }
    }
}
