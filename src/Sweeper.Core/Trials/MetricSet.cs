using System.Collections;

namespace Sweeper.Core.Trials;

/// <summary>
/// An epoch's metrics as the coordinator keeps them for the whole sweep: the values in one array, the names shared with
/// every other set that <see cref="MetricSets"/> made with the same names in the same order (a trial reports the same
/// metrics every epoch). A <see cref="Dictionary{TKey, TValue}"/> of eight metrics takes about 440 bytes (its entries,
/// buckets and object), this about 120. Enumerates in the order of the metrics it was made from; immutable.
/// </summary>
public sealed class MetricSet : IReadOnlyDictionary<string, double>
{
    private readonly MetricNameList _names;
    private readonly double[] _values;

    internal MetricSet(MetricNameList names, double[] values) => (_names, _values) = (names, values);

    public int Count => _values.Length;

    public double this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"no metric '{key}'");

    public IEnumerable<string> Keys => _names.Names;

    /// <summary>
    /// The names in order: the same object for every set made with the same name list (<see cref="MetricSets"/>), so a
    /// writer can keep what it derived from them (their encoded JSON, say) by reference.
    /// </summary>
    public IReadOnlyList<string> Names => _names.Names;

    public IEnumerable<double> Values => _values;

    public bool ContainsKey(string key) => _names.IndexOf(key) >= 0;

    public bool TryGetValue(string key, out double value)
    {
        int i = _names.IndexOf(key);
        value = i >= 0 ? _values[i] : 0;
        return i >= 0;
    }

    /// <summary>The metrics in order, without an allocation (<c>foreach</c> over the set itself).</summary>
    public Enumerator GetEnumerator() => new(this);

    IEnumerator<KeyValuePair<string, double>> IEnumerable<KeyValuePair<string, double>>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Enumerates a <see cref="MetricSet"/> in order.</summary>
    public struct Enumerator : IEnumerator<KeyValuePair<string, double>>
    {
        private readonly MetricSet _set;
        private int _index;

        internal Enumerator(MetricSet set) => (_set, _index) = (set, -1);

        public readonly KeyValuePair<string, double> Current => new(_set._names.Names[_index], _set._values[_index]);

        readonly object IEnumerator.Current => Current;

        public bool MoveNext() => ++_index < _set._values.Length;

        public void Reset() => _index = -1;

        public readonly void Dispose() { }
    }
}

/// <summary>The names of a <see cref="MetricSet"/>, in order, with a lookup.</summary>
internal sealed class MetricNameList
{
    /// <summary>Up to this many names are looked up by a scan (reference, then ordinal comparison); more by a dictionary.</summary>
    private const int ScanLimit = 12;

    private readonly Dictionary<string, int>? _index;

    public MetricNameList(string[] names)
    {
        Names = names;
        if (names.Length > ScanLimit)
        {
            _index = new Dictionary<string, int>(names.Length, StringComparer.Ordinal);
            for (int i = 0; i < names.Length; i++) _index[names[i]] = i;
        }
    }

    public string[] Names { get; }

    public int IndexOf(string key)
    {
        if (_index is not null) return _index.TryGetValue(key, out var i) ? i : -1;
        var names = Names;
        for (int i = 0; i < names.Length; i++)
            if (ReferenceEquals(names[i], key)) return i;
        for (int i = 0; i < names.Length; i++)
            if (string.Equals(names[i], key, StringComparison.Ordinal)) return i;
        return -1;
    }
}

/// <summary>
/// Makes <see cref="MetricSet"/>s, sharing the name lists among them: the last few lists seen are tried in order before a
/// new one is made. Not thread-safe: one per owner (the coordinator's sweep state, a journal read).
/// </summary>
public sealed class MetricSets
{
    /// <summary>Name lists kept for sharing; sets with other names get lists of their own.</summary>
    private const int Kept = 16;

    private readonly List<MetricNameList> _lists = [];

    /// <summary>The metrics as a <see cref="MetricSet"/> (the same object if it is one already).</summary>
    public IReadOnlyDictionary<string, double> Compact(IReadOnlyDictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (metrics is MetricSet) return metrics;
        var values = new double[metrics.Count];
        foreach (var list in _lists)
            if (TryFill(list, metrics, values)) return new MetricSet(list, values);

        var names = new string[values.Length];
        int i = 0;
        foreach (var (key, value) in metrics)
        {
            names[i] = key;
            values[i++] = value;
        }
        var made = new MetricNameList(names);
        if (_lists.Count < Kept) _lists.Insert(0, made);
        else _lists[^1] = made;
        return new MetricSet(made, values);
    }

    /// <summary>Whether <paramref name="metrics"/> has <paramref name="list"/>'s names in its order; fills the values if so.</summary>
    private static bool TryFill(MetricNameList list, IReadOnlyDictionary<string, double> metrics, double[] values)
    {
        var names = list.Names;
        if (names.Length != values.Length) return false;
        int i = 0;
        if (metrics is Dictionary<string, double> dictionary)
        {
            foreach (var (key, value) in dictionary) // the struct enumerator: nothing boxed per epoch
            {
                if (!Same(names[i], key)) return false;
                values[i++] = value;
            }
            return true;
        }

        foreach (var (key, value) in metrics)
        {
            if (!Same(names[i], key)) return false;
            values[i++] = value;
        }
        return true;
    }

    private static bool Same(string a, string b) => ReferenceEquals(a, b) || string.Equals(a, b, StringComparison.Ordinal);
}
