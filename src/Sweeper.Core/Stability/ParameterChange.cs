using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Sweeper.Core.Search;

namespace Sweeper.Core.Stability;

/// <summary>What a change does to a value.</summary>
public enum ChangeOperation
{
    /// <summary><c>"*0.5"</c>: multiply a number (an integer must stay an integer).</summary>
    Multiply,
    /// <summary><c>"+1"</c> or <c>"-1"</c>: add to a number (an integer only by a whole number).</summary>
    Add,
    /// <summary><c>"=x"</c> or a plain value: set (a string, a boolean or a number, as the value's type allows).</summary>
    Set,
}

/// <summary>
/// One declared change of a restart: a dotted key (<c>trainable.optimizer.lr</c>) and an operation. Applied
/// once per restart, so changes add up: <c>"*0.5"</c> on lr 0.1 gives 0.05 at the first restart, 0.025 at the second.
/// </summary>
/// <remarks>
/// <para>The grammar of a change written as text (a YAML string, quoted or not):</para>
/// <list type="bullet">
/// <item><c>*x</c>: multiply by the number x.</item>
/// <item><c>+x</c> or <c>-x</c>: add the number ±x. A leading sign always means add; to set a negative number write <c>=-1</c>.</item>
/// <item><c>=v</c>: set to v, read as YAML reads a plain scalar: <c>true</c>/<c>false</c>, an integer, a number, else the text.</item>
/// <item>anything else: set, read the same way (<c>adam</c>, <c>0.01</c>, <c>true</c>).</item>
/// </list>
/// <para>A change given as a YAML boolean or number (not text) sets that value. A YAML loader reads an unquoted
/// <c>+1</c> or <c>-1</c> as the number 1 or −1, which sets; write <c>"+1"</c> (quoted) to add, or pass the
/// scalar's text to <see cref="TryParseText"/>. An unquoted <c>*0.5</c> is a YAML alias, not a string.</para>
/// </remarks>
/// <param name="Key">The dotted key of the value to change.</param>
/// <param name="Operation">What to do.</param>
/// <param name="Operand">
/// The number to multiply by or add (<see cref="double"/>), or the value to set (<see cref="string"/>,
/// <see cref="bool"/>, <see cref="long"/> or <see cref="double"/>).
/// </param>
/// <param name="Text">The change as written: <c>*0.5</c>, <c>+1</c>, <c>=adam</c>, <c>true</c>.</param>
/// <param name="SetText">
/// For a set written as text, the text after any '=': what a string value is set to (so <c>"=0.5"</c> on a string
/// key sets "0.5"). Null for a set given as a YAML boolean or number, which only fits a value of that type.
/// </param>
public sealed record ParameterChange(string Key, ChangeOperation Operation, object Operand, string Text, string? SetText = null)
{
    /// <summary>What a change value looks like, for error messages.</summary>
    public const string Expected = "a change: '*0.5' (multiply), '+1' or '-1' (add), '=value' or a plain value (set)";

    public override string ToString() => $"{Key}: {Text}";

    /// <summary>Parses and throws <see cref="FormatException"/> with the validator's message on failure.</summary>
    public static ParameterChange Parse(string key, object? value) =>
        TryParse(key, value, out var change, out var error) ? change : throw new FormatException(error);

    /// <summary>
    /// Parses a change from a plain value as a YAML loader gives it: text (the grammar above), a boolean or a
    /// number (set). On failure <paramref name="error"/> is a message for a spec validator (the caller adds the place).
    /// </summary>
    public static bool TryParse(string key, object? value, [NotNullWhen(true)] out ParameterChange? change, [NotNullWhen(false)] out string? error)
    {
        change = null;
        if (!TryCheckKey(key, out error)) return false;
        switch (value)
        {
            case null:
                error = $"{key}: expected {Expected}; found nothing (null)";
                return false;
            case string text:
                return TryParseText(key, text, out change, out error);
            case bool or sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal:
                object normalized;
                try { normalized = ParameterValues.Normalize(value); }
                catch (ArgumentException) { error = $"{key}: the number {value} is out of range"; return false; }
                if (normalized is double d && !double.IsFinite(d))
                {
                    error = $"{key}: expected a finite number; found {ParameterValues.Format(d)}";
                    return false;
                }
                change = new ParameterChange(key, ChangeOperation.Set, normalized, ParameterValues.Format(normalized));
                return true;
            default:
                error = $"{key}: expected {Expected}; found {Describe(value)}";
                return false;
        }
    }

    /// <summary>Parses a change written as text (a YAML scalar's text, whether it was quoted or not).</summary>
    public static bool TryParseText(string key, string text, [NotNullWhen(true)] out ParameterChange? change, [NotNullWhen(false)] out string? error)
    {
        change = null;
        if (!TryCheckKey(key, out error)) return false;
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        if (t.Length == 0)
        {
            error = $"{key}: expected {Expected}; found an empty string";
            return false;
        }
        switch (t[0])
        {
            case '*':
                if (!TryNumber(t[1..], out double factor))
                {
                    error = $"{key}: '{t}': expected a finite unsigned number after '*', as in '*0.5'";
                    return false;
                }
                change = new ParameterChange(key, ChangeOperation.Multiply, factor, t);
                return true;
            case '+' or '-':
                if (!TryNumber(t[1..], out double amount))
                {
                    error = $"{key}: '{t}': expected a finite unsigned number after '{t[0]}', as in '{t[0]}1'; to set a text that starts with '{t[0]}', write '={t}'";
                    return false;
                }
                change = new ParameterChange(key, ChangeOperation.Add, t[0] == '-' ? -amount : amount, t);
                return true;
            case '=':
                string payload = t[1..].Trim();
                if (payload.Length == 0)
                {
                    error = $"{key}: '=' needs a value after it, as in '=0.01', '=true' or '=adam'";
                    return false;
                }
                change = new ParameterChange(key, ChangeOperation.Set, Literal(payload), t, payload);
                return true;
            default:
                change = new ParameterChange(key, ChangeOperation.Set, Literal(t), t, t);
                return true;
        }
    }

    /// <summary>A dotted key: non-empty segments of letters, digits, '_' or '-', separated by single dots.</summary>
    public static bool TryCheckKey([NotNullWhen(true)] string? key, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(key))
        {
            error = "a change needs a key, such as trainable.optimizer.lr";
            return false;
        }
        foreach (var segment in key.Split('.'))
        {
            if (segment.Length == 0 || !segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                error = $"'{key}' is not a dotted key such as trainable.optimizer.lr";
                return false;
            }
        }
        return true;
    }

    /// <summary>Text read as YAML reads a plain scalar: true/false, an integer, a finite number, else the text itself.</summary>
    internal static object Literal(string text) =>
        text is "true" ? true
        : text is "false" ? false
        : long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? l
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) ? d
        : text;

    /// <summary>An unsigned finite number (the sign belongs to the operation: '*-1' and '+-1' are errors).</summary>
    private static bool TryNumber(string text, out double value)
    {
        value = double.NaN;
        string t = text.Trim();
        return t.Length > 0 && t[0] is not ('+' or '-')
            && double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
    }

    /// <summary>Human wording of a value: <c>the number 0.1</c>, <c>the integer 64</c>, <c>the string 'adam'</c>, <c>the boolean true</c>.</summary>
    internal static string Describe(object? value) => value switch
    {
        null => "null",
        string s => $"the string '{s}'",
        bool b => $"the boolean {(b ? "true" : "false")}",
        long or int or short or sbyte or byte or uint or ushort or ulong => $"the integer {ParameterValues.Format(value)}",
        double or float or decimal => $"the number {ParameterValues.Format(value)}",
        System.Collections.IEnumerable => "a list or mapping",
        _ => $"a {value.GetType().Name}",
    };
}
