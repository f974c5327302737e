using System.Globalization;
using System.Text;

namespace Sweeper.Core.Reporting;

/// <summary>Text and numbers for HTML and SVG: every piece of text from a run goes through <see cref="Escape"/>.</summary>
public static class Html
{
    /// <summary>
    /// Escapes text for element content and for quoted attribute values: <c>&amp; &lt; &gt; " '</c>. Control characters
    /// other than tab, newline and carriage return (not allowed in HTML) become U+FFFD.
    /// </summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var sb = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            switch (c)
            {
                case '&': sb.Append("&amp;"); break;
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '"': sb.Append("&quot;"); break;
                case '\'': sb.Append("&#39;"); break;
                case '\t' or '\n' or '\r': sb.Append(c); break;
                case < ' ' or '\u007f': sb.Append('\uFFFD'); break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    /// <summary>A coordinate or size for SVG: invariant, at most two decimals. Non-finite values are a bug of the caller.</summary>
    public static string Num(double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "SVG coordinates must be finite");
        var rounded = Math.Round(value, 2);
        return (rounded == 0 ? 0 : rounded).ToString("0.##", CultureInfo.InvariantCulture);
    }
}
