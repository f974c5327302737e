using System.Collections;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Sweep;

/// <summary>
/// A trial's epochs as <see cref="SweepState"/> grows them: an immutable list whose <see cref="Append"/> costs one small
/// object and no copy when appended to its newest version (the usual case: one epoch after another), and copies
/// otherwise. Every version sees exactly the epochs it was made with, so a version handed to another thread (a
/// <see cref="TrialRecord"/> in a message) stays valid while the owner appends.
/// </summary>
/// <remarks>
/// Versions share one array: a version of length n reads the first n slots, which are written once, before that
/// version exists, and never again. Only the newest version (n = the array's filled length) appends in place; any other
/// copies its n slots into a new array first. One thread appends (the coordinator's); readers receive versions through
/// a message or a lock, which publishes the slots they read.
/// </remarks>
public sealed class EpochLog : IReadOnlyList<EpochResult>
{
    private sealed class Shared(EpochResult[] items)
    {
        public EpochResult[] Items = items;
        public int Filled;
    }

    private readonly Shared _shared;
    private readonly EpochResult[] _items;
    private readonly int _count;

    private EpochLog(Shared shared, EpochResult[] items, int count) => (_shared, _items, _count) = (shared, items, count);

    /// <summary>The epochs of <paramref name="epochs"/>, then <paramref name="next"/> (an <see cref="EpochLog"/> appends in place when it can).</summary>
    public static EpochLog Append(IReadOnlyList<EpochResult> epochs, EpochResult next)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        ArgumentNullException.ThrowIfNull(next);
        if (epochs is EpochLog log) return log.Append(next);
        var items = new EpochResult[Math.Max(8, epochs.Count * 2)];
        for (int i = 0; i < epochs.Count; i++) items[i] = epochs[i];
        items[epochs.Count] = next;
        var shared = new Shared(items) { Filled = epochs.Count + 1 };
        return new EpochLog(shared, items, epochs.Count + 1);
    }

    /// <summary>The first <paramref name="count"/> epochs of <paramref name="epochs"/> (a copy unless it is all of them).</summary>
    public static IReadOnlyList<EpochResult> Prefix(IReadOnlyList<EpochResult> epochs, int count)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, epochs.Count);
        return count == epochs.Count ? epochs : epochs.Take(count).ToArray();
    }

    private EpochLog Append(EpochResult next)
    {
        lock (_shared) // one appender in practice; the lock only makes "am I the newest version?" and the write one step
        {
            if (_count == _shared.Filled && ReferenceEquals(_items, _shared.Items))
            {
                if (_count == _items.Length)
                {
                    var grown = new EpochResult[_items.Length * 2];
                    Array.Copy(_items, grown, _count);
                    _shared.Items = grown;
                }
                _shared.Items[_count] = next;
                _shared.Filled = _count + 1;
                return new EpochLog(_shared, _shared.Items, _count + 1);
            }
        }
        var copy = new EpochResult[Math.Max(8, _count * 2)];
        Array.Copy(_items, copy, _count);
        copy[_count] = next;
        return new EpochLog(new Shared(copy) { Filled = _count + 1 }, copy, _count + 1);
    }

    public int Count => _count;

    public EpochResult this[int index] => (uint)index < (uint)_count ? _items[index] : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<EpochResult> GetEnumerator()
    {
        for (int i = 0; i < _count; i++) yield return _items[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
