using System.Collections;
using System.Globalization;

namespace Sweeper.Core.Search;

/// <summary>
/// Where a parameter's values come from. Five kinds, as in Ray Tune and hyperopt:
/// <c>values</c> (categorical), <c>uniform(low, high, q?)</c>, <c>log_uniform(low, high, q?)</c>,
/// <c>int_uniform(low, high, q?)</c> and <c>normal(mu, sigma, q?)</c>.
/// </summary>
/// <remarks>
/// <para>Quantisation <c>q</c> of a bounded domain is anchored at <c>low</c>: the values are
/// <c>low, low+q, low+2q, …</c> up to <c>high</c> (inclusive when <c>high − low</c> is a multiple of <c>q</c>),
/// as in Optuna, so a quantised value never leaves <c>[low, high]</c>. A quantised normal is rounded to
/// a multiple of <c>q</c> (as in hyperopt and Ray Tune's <c>qrandn</c>).</para>
/// <para>Constructors validate their arguments and throw <see cref="ArgumentException"/> with a message
/// fit for a spec error (the loader adds file, line and column).</para>
/// </remarks>
public abstract class ParameterDomain
{
    private protected ParameterDomain() { }

    /// <summary>The spec name of the domain kind: <c>values</c>, <c>uniform</c>, <c>log_uniform</c>, <c>int_uniform</c> or <c>normal</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>True when the domain has finitely many values, so it can be part of a grid.</summary>
    public abstract bool IsFinite { get; }

    /// <summary>The domain's values in grid order. Throws <see cref="InvalidOperationException"/> when <see cref="IsFinite"/> is false.</summary>
    public abstract IReadOnlyList<object> GridValues { get; }

    /// <summary>Draws one value.</summary>
    public abstract object Sample(Random random);

    /// <summary>True when <paramref name="value"/> is a value this domain can produce.</summary>
    public abstract bool Contains(object value);

    public static ValuesDomain Values(params object[] values) => new(values);
    public static UniformDomain Uniform(double low, double high, double? q = null) => new(low, high, q);
    public static LogUniformDomain LogUniform(double low, double high, double? q = null) => new(low, high, q);
    public static IntUniformDomain IntUniform(long low, long high, long? q = null) => new(low, high, q);
    public static NormalDomain Normal(double mu, double sigma, double? q = null) => new(mu, sigma, q);

    private protected static string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    private protected static void RequireFinite(double x, string name, string kind)
    {
        if (!double.IsFinite(x)) throw new ArgumentException($"{kind}: {name} must be a finite number, got {F(x)}", name);
    }

    private protected static void RequirePositiveQ(double? q, string kind)
    {
        if (q is { } v && (!double.IsFinite(v) || v <= 0))
            throw new ArgumentException($"{kind}: q must be a positive number, got {F(v)}", "q");
    }
}

/// <summary>A categorical domain: one of the listed values, drawn with equal probability; its grid is the list in order.</summary>
public sealed class ValuesDomain : ParameterDomain
{
    private readonly object[] _values;

    public ValuesDomain(IEnumerable<object> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        _values = values.Select(ParameterValues.Normalize).ToArray();
        if (_values.Length == 0) throw new ArgumentException("values: the list must not be empty", nameof(values));
        for (int i = 0; i < _values.Length; i++)
            for (int j = 0; j < i; j++)
                if (ParameterValues.AreEqual(_values[i], _values[j]))
                    throw new ArgumentException($"values: {ParameterValues.Format(_values[i])} is listed twice", nameof(values));
    }

    public override string Kind => "values";
    public override bool IsFinite => true;
    public override IReadOnlyList<object> GridValues => _values;
    public IReadOnlyList<object> Choices => _values;
    public override object Sample(Random random) => _values[random.Next(_values.Length)];
    public override bool Contains(object value) => IndexOf(value) >= 0;

    /// <summary>The position of <paramref name="value"/> in the list, or −1.</summary>
    public int IndexOf(object value)
    {
        for (int i = 0; i < _values.Length; i++)
            if (ParameterValues.AreEqual(_values[i], value)) return i;
        return -1;
    }

    public override string ToString() => $"values([{string.Join(", ", _values.Select(ParameterValues.Format))}])";
}

/// <summary>Uniform over [low, high]; with <c>q</c>, uniform over the grid low, low+q, … ≤ high.</summary>
public sealed class UniformDomain : ParameterDomain
{
    private readonly QuantizedGrid? _grid;

    public UniformDomain(double low, double high, double? q = null)
    {
        RequireFinite(low, "low", "uniform");
        RequireFinite(high, "high", "uniform");
        if (low > high) throw new ArgumentException($"uniform: low ({F(low)}) must not exceed high ({F(high)})", nameof(low));
        RequirePositiveQ(q, "uniform");
        (Low, High, Q) = (low, high, q);
        if (q is { } step) _grid = new QuantizedGrid(low, high, step);
    }

    public double Low { get; }
    public double High { get; }
    public double? Q { get; }
    public override string Kind => "uniform";
    public override bool IsFinite => Q is not null;
    public override IReadOnlyList<object> GridValues =>
        _grid ?? throw new InvalidOperationException($"{this} is continuous: it has no grid values (give it a q)");

    /// <summary>The largest value the domain produces (the last grid point when quantised).</summary>
    public double EffectiveHigh => _grid?.Last ?? High;

    public override object Sample(Random random)
    {
        if (_grid is not null) return _grid.At(random.NextInt64(_grid.Count));
        return Math.Min(High, Low + (High - Low) * random.NextDouble());
    }

    /// <summary>Rounds <paramref name="x"/> to the domain (nearest grid point, or clamped).</summary>
    public double Snap(double x) => _grid?.Nearest(x) ?? Math.Clamp(x, Low, High);

    public override bool Contains(object value) =>
        ParameterValues.TryGetDouble(value, out double x) && x >= Low && x <= High && (_grid is null || _grid.IsOnGrid(x));

    public override string ToString() => Q is { } q ? $"uniform({F(Low)}, {F(High)}, q={F(q)})" : $"uniform({F(Low)}, {F(High)})";
}

/// <summary>Log-uniform over [low, high] (low &gt; 0): uniform in log space; with <c>q</c>, the draw is rounded to the grid low, low+q, … ≤ high.</summary>
public sealed class LogUniformDomain : ParameterDomain
{
    private readonly QuantizedGrid? _grid;

    public LogUniformDomain(double low, double high, double? q = null)
    {
        RequireFinite(low, "low", "log_uniform");
        RequireFinite(high, "high", "log_uniform");
        if (low <= 0) throw new ArgumentException($"log_uniform: low must be positive, got {F(low)}", nameof(low));
        if (low > high) throw new ArgumentException($"log_uniform: low ({F(low)}) must not exceed high ({F(high)})", nameof(low));
        RequirePositiveQ(q, "log_uniform");
        (Low, High, Q) = (low, high, q);
        if (q is { } step) _grid = new QuantizedGrid(low, high, step);
    }

    public double Low { get; }
    public double High { get; }
    public double? Q { get; }
    public override string Kind => "log_uniform";
    public override bool IsFinite => Q is not null;
    public override IReadOnlyList<object> GridValues =>
        _grid ?? throw new InvalidOperationException($"{this} is continuous: it has no grid values (give it a q)");

    public double EffectiveHigh => _grid?.Last ?? High;

    public override object Sample(Random random)
    {
        double x = Math.Exp(Math.Log(Low) + (Math.Log(High) - Math.Log(Low)) * random.NextDouble());
        return Snap(x);
    }

    public double Snap(double x) => _grid?.Nearest(x) ?? Math.Clamp(x, Low, High);

    public override bool Contains(object value) =>
        ParameterValues.TryGetDouble(value, out double x) && x >= Low && x <= High && (_grid is null || _grid.IsOnGrid(x));

    public override string ToString() => Q is { } q ? $"log_uniform({F(Low)}, {F(High)}, q={F(q)})" : $"log_uniform({F(Low)}, {F(High)})";
}

/// <summary>Integers low, low+q, … ≤ high (both bounds inclusive; q defaults to 1), drawn with equal probability.</summary>
public sealed class IntUniformDomain : ParameterDomain
{
    private readonly IntGrid _grid;

    public IntUniformDomain(long low, long high, long? q = null)
    {
        if (low > high) throw new ArgumentException($"int_uniform: low ({low}) must not exceed high ({high})", nameof(low));
        if (q is <= 0) throw new ArgumentException($"int_uniform: q must be a positive integer, got {q}", nameof(q));
        (Low, High, Q) = (low, high, q ?? 1);
        _grid = new IntGrid(low, high, Q);
    }

    public long Low { get; }
    public long High { get; }
    public long Q { get; }
    public override string Kind => "int_uniform";
    public override bool IsFinite => true;
    public override IReadOnlyList<object> GridValues => _grid;
    public long EffectiveHigh => _grid.LastValue;
    public override object Sample(Random random) => _grid.ValueAt(random.NextInt64(_grid.Count));

    /// <summary>The grid value nearest to <paramref name="x"/>.</summary>
    public long Snap(double x)
    {
        double k = Math.Round((x - Low) / Q);
        if (double.IsNaN(k) || k <= 0) return Low;
        return k >= _grid.Count - 1 ? _grid.LastValue : _grid.ValueAt((long)k);
    }

    public override bool Contains(object value) => value switch
    {
        long l => l >= Low && l <= High && (l - Low) % Q == 0,
        int i => Contains((long)i),
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e15 => Contains((long)d),
        _ => false,
    };

    public override string ToString() => Q == 1 ? $"int_uniform({Low}, {High})" : $"int_uniform({Low}, {High}, q={Q})";

    private sealed class IntGrid(long low, long high, long q) : IReadOnlyList<object>
    {
        public long Count { get; } = (long)(((ulong)(high - low)) / (ulong)q) + 1;
        public long LastValue => ValueAt(Count - 1);
        public long ValueAt(long k) => low + k * q;
        int IReadOnlyCollection<object>.Count => Count > int.MaxValue ? throw new InvalidOperationException($"the grid of int_uniform({low}, {high}) has more than {int.MaxValue} values") : (int)Count;
        public object this[int index] => index >= 0 && index < Count ? ValueAt(index) : throw new ArgumentOutOfRangeException(nameof(index));
        public IEnumerator<object> GetEnumerator() { for (long k = 0; k < Count; k++) yield return ValueAt(k); }
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

/// <summary>Normal N(mu, sigma²), unbounded; with <c>q</c>, rounded to a multiple of q. Never finite.</summary>
public sealed class NormalDomain : ParameterDomain
{
    public NormalDomain(double mu, double sigma, double? q = null)
    {
        RequireFinite(mu, "mu", "normal");
        RequireFinite(sigma, "sigma", "normal");
        if (sigma <= 0) throw new ArgumentException($"normal: sigma must be positive, got {F(sigma)}", nameof(sigma));
        RequirePositiveQ(q, "normal");
        (Mu, Sigma, Q) = (mu, sigma, q);
    }

    public double Mu { get; }
    public double Sigma { get; }
    public double? Q { get; }
    public override string Kind => "normal";
    public override bool IsFinite => false;
    public override IReadOnlyList<object> GridValues =>
        throw new InvalidOperationException($"{this} is unbounded: it has no grid values");

    public override object Sample(Random random) => Snap(Mu + Sigma * random.NextGaussian());

    public double Snap(double x) => Q is { } q ? QuantizedGrid.Clean(Math.Round(x / q) * q, q) : x;

    public override bool Contains(object value) =>
        ParameterValues.TryGetDouble(value, out double x) && double.IsFinite(x) &&
        (Q is not { } q || Math.Abs(x / q - Math.Round(x / q)) < 1e-9);

    public override string ToString() => Q is { } q ? $"normal({F(Mu)}, {F(Sigma)}, q={F(q)})" : $"normal({F(Mu)}, {F(Sigma)})";
}

/// <summary>The grid low, low+q, … ≤ high of a quantised real domain, computed in decimal where it fits so that 0.1+0.2 prints as 0.3.</summary>
internal sealed class QuantizedGrid : IReadOnlyList<object>
{
    private readonly double _low, _q;

    public QuantizedGrid(double low, double high, double q)
    {
        (_low, _q) = (low, q);
        double steps = TryDecimal(low, high, q, out decimal dl, out decimal dh, out decimal dq)
            ? (double)decimal.Floor((dh - dl) / dq)
            : Math.Floor((high - low) / q + 1e-9);
        if (steps >= int.MaxValue) throw new ArgumentException($"the grid from {low} to {high} in steps of {q} has too many values", nameof(q));
        Count = (int)steps + 1;
    }

    public int Count { get; }
    public double Last => At(Count - 1);

    public double At(long k)
    {
        if (TryDecimal(_low, _low, _q, out decimal dl, out _, out decimal dq))
        {
            try { return (double)(dl + k * dq); } catch (OverflowException) { }
        }
        return _low + k * _q;
    }

    public double Nearest(double x)
    {
        double k = Math.Round((x - _low) / _q);
        if (double.IsNaN(k) || k <= 0) return At(0);
        return k >= Count - 1 ? Last : At((long)k);
    }

    public bool IsOnGrid(double x)
    {
        double k = (x - _low) / _q;
        return k > -1e-9 && Math.Abs(k - Math.Round(k)) < 1e-9 && Math.Round(k) < Count;
    }

    public object this[int index] => index >= 0 && index < Count ? At(index) : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<object> GetEnumerator() { for (int k = 0; k < Count; k++) yield return At(k); }
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Removes binary noise from a multiple of <paramref name="q"/> (0.30000000000000004 → 0.3).</summary>
    internal static double Clean(double x, double q)
    {
        if (TryDecimal(x, x, q, out decimal dx, out _, out decimal dq) && dq != 0)
        {
            try { return (double)(decimal.Round(dx / dq) * dq); } catch (OverflowException) { }
        }
        return x;
    }

    private static bool TryDecimal(double a, double b, double c, out decimal da, out decimal db, out decimal dc)
    {
        static bool Fits(double x) => double.IsFinite(x) && Math.Abs(x) < 1e15 && (x == 0 || Math.Abs(x) > 1e-15);
        if (Fits(a) && Fits(b) && Fits(c))
        {
            (da, db, dc) = ((decimal)a, (decimal)b, (decimal)c);
            return true;
        }
        (da, db, dc) = (0, 0, 0);
        return false;
    }
}
