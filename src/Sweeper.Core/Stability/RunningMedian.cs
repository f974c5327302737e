namespace Sweeper.Core.Stability;

/// <summary>
/// The median of the last <c>capacity</c> values added: a ring buffer (arrival order) plus a sorted copy.
/// Add is O(capacity) by a block move, Median O(1); no allocation after construction.
/// </summary>
internal sealed class RunningMedian
{
    private readonly double[] _ring;
    private readonly double[] _sorted;
    private int _count;
    private int _next;

    public RunningMedian(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _ring = new double[capacity];
        _sorted = new double[capacity];
    }

    public int Count => _count;
    public int Capacity => _ring.Length;
    public bool IsFull => _count == _ring.Length;

    /// <summary>The median of the values in the window (mean of the middle two for an even count); NaN when empty.</summary>
    public double Median =>
        _count == 0 ? double.NaN
        : (_count & 1) == 1 ? _sorted[_count >> 1]
        : 0.5 * (_sorted[(_count >> 1) - 1] + _sorted[_count >> 1]);

    /// <summary>Adds a finite value, dropping the oldest when full.</summary>
    public void Add(double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "only finite values enter a running median");
        if (_count == _ring.Length)
        {
            double oldest = _ring[_next];
            int at = Array.BinarySearch(_sorted, 0, _count, oldest);
            Array.Copy(_sorted, at + 1, _sorted, at, _count - at - 1);
            _count--;
        }
        _ring[_next] = value;
        _next = _next + 1 == _ring.Length ? 0 : _next + 1;
        int i = Array.BinarySearch(_sorted, 0, _count, value);
        if (i < 0) i = ~i;
        Array.Copy(_sorted, i, _sorted, i + 1, _count - i);
        _sorted[i] = value;
        _count++;
    }
}
