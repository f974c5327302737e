using System.Globalization;

namespace Sweeper.Core.Search;

/// <summary>
/// Parameter values are <see cref="string"/>, <see cref="bool"/>, <see cref="long"/> or <see cref="double"/>.
/// Helpers to normalise, compare and print them.
/// </summary>
public static class ParameterValues
{
    /// <summary>Maps integer types to <see cref="long"/> and floating types to <see cref="double"/>; rejects other types.</summary>
    public static object Normalize(object value) => value switch
    {
        null => throw new ArgumentNullException(nameof(value)),
        string or bool or long or double => value,
        int or short or sbyte or byte or ushort or uint => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ulong u when u <= long.MaxValue => (long)u,
        float f => (double)f,
        decimal m => (double)m,
        _ => throw new ArgumentException(
            $"unsupported parameter value type {value.GetType().Name} (expected string, bool, integer or floating-point number)",
            nameof(value)),
    };

    /// <summary>True for numbers (after normalisation).</summary>
    public static bool TryGetDouble(object value, out double number)
    {
        switch (value)
        {
            case long l: number = l; return true;
            case double d: number = d; return true;
            case int i: number = i; return true;
            case float f: number = f; return true;
            default: number = double.NaN; return false;
        }
    }

    /// <summary>Value equality across number types (<c>1 == 1.0</c>), ordinal for strings.</summary>
    public static bool AreEqual(object a, object b)
    {
        if (a is string sa) return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
        if (a is bool ba) return b is bool bb && ba == bb;
        if (a is long la && b is long lb) return la == lb;
        return TryGetDouble(a, out double da) && TryGetDouble(b, out double db) && da == db;
    }

    /// <summary>Invariant, round-trippable text: <c>0.001</c>, <c>64</c>, <c>true</c>, <c>adam</c>.</summary>
    public static string Format(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary><c>key=value, key=value</c> in order.</summary>
    public static string Format(IEnumerable<KeyValuePair<string, object>> assignment) =>
        string.Join(", ", assignment.Select(kv => $"{kv.Key}={Format(kv.Value)}"));
}
