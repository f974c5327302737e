using System.Globalization;
using System.Text;

namespace Sweeper.Core.Reporting;

/// <summary>An interval of data values along one axis.</summary>
public readonly record struct AxisRange(double Min, double Max)
{
    /// <summary>
    /// The range of the finite <paramref name="values"/>, widened by <paramref name="pad"/> of its span on each side
    /// (a single value gets a small span of its own; no value gives 0..1).
    /// </summary>
    public static AxisRange Of(IEnumerable<double> values, double pad = 0.05)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var v in values)
        {
            if (!double.IsFinite(v)) continue;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        if (min > max) return new AxisRange(0, 1);
        var span = max - min;
        if (span <= Math.Abs(max) * 1e-12)
        {
            var half = min == 0 ? 0.5 : Math.Abs(min) * 0.05;
            return new AxisRange(min - half, max + half);
        }
        return new AxisRange(min - span * pad, max + span * pad);
    }

    /// <summary>Tick values of a step of 1, 2 or 5 × 10ⁿ, about <paramref name="target"/> of them, inside the range.</summary>
    public IReadOnlyList<double> Ticks(int target, bool integers = false)
    {
        var step = Step(target, integers);
        var ticks = new List<double>();
        var first = Math.Ceiling(Min / step - 1e-9);
        for (int i = 0; i < 1000; i++)
        {
            var t = (first + i) * step;
            if (t > Max + step * 1e-9) break;
            ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        }
        return ticks;
    }

    /// <summary>The tick step for <see cref="Ticks"/>.</summary>
    public double Step(int target, bool integers = false)
    {
        var raw = (Max - Min) / Math.Max(1, target);
        if (!double.IsFinite(raw) || raw <= 0) return 1;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var fraction = raw / magnitude;
        var step = (fraction < 1.5 ? 1 : fraction < 3.5 ? 2 : fraction < 7.5 ? 5 : 10) * magnitude;
        return integers ? Math.Max(1, Math.Round(step)) : step;
    }

    /// <summary>Formats a tick value with as many decimals as the step needs.</summary>
    public static string Label(double value, double step)
    {
        int decimals = Math.Clamp((int)-Math.Floor(Math.Log10(step) + 1e-9), 0, 6);
        return value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }
}

/// <summary>Space around the plotting area, in pixels.</summary>
public readonly record struct Margin(double Top, double Right, double Bottom, double Left);

/// <summary>
/// A small SVG plot on linear axes: data coordinates map into the area inside <see cref="Margin"/>. Only finite values
/// are drawn (a line breaks where a value is missing), so the markup never holds NaN. Every text is escaped.
/// </summary>
public sealed class SvgPlot(double width, double height, AxisRange x, AxisRange y, Margin margin)
{
    private readonly StringBuilder _body = new();

    public double Width => width;
    public double Height => height;
    public AxisRange X => x;
    public AxisRange Y => y;

    public double Px(double value) => margin.Left + (value - x.Min) / (x.Max - x.Min) * (width - margin.Left - margin.Right);

    public double Py(double value) => height - margin.Bottom - (value - y.Min) / (y.Max - y.Min) * (height - margin.Top - margin.Bottom);

    /// <summary>Grid lines, tick labels and axis titles.</summary>
    /// <param name="yTicks">About how many y ticks (0: none, for plots whose rows are labelled).</param>
    /// <param name="xGrid">Vertical grid lines at the x ticks.</param>
    /// <param name="integerY">Whole-number y ticks (counts).</param>
    public SvgPlot Axes(string? xTitle, string? yTitle, int xTicks = 6, int yTicks = 5, bool integerX = false, bool xGrid = false, bool integerY = false)
    {
        double left = margin.Left, right = width - margin.Right, top = margin.Top, bottom = height - margin.Bottom;
        var yStep = y.Step(yTicks, integerY);
        foreach (var t in yTicks > 0 ? y.Ticks(yTicks, integerY) : [])
        {
            var py = Py(t);
            _body.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{Html.Num(left)}\" x2=\"{Html.Num(right)}\" y1=\"{Html.Num(py)}\" y2=\"{Html.Num(py)}\"/>");
            _body.Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{Html.Num(left - 4)}\" y=\"{Html.Num(py + 3.5)}\" text-anchor=\"end\">{Html.Escape(AxisRange.Label(t, yStep))}</text>");
        }
        if (xTicks > 0)
        {
            var xStep = x.Step(xTicks, integerX);
            foreach (var t in x.Ticks(xTicks, integerX))
            {
                var px = Px(t);
                if (xGrid)
                    _body.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{Html.Num(px)}\" x2=\"{Html.Num(px)}\" y1=\"{Html.Num(top)}\" y2=\"{Html.Num(bottom)}\"/>");
                _body.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{Html.Num(px)}\" x2=\"{Html.Num(px)}\" y1=\"{Html.Num(bottom)}\" y2=\"{Html.Num(bottom + 4)}\"/>");
                _body.Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{Html.Num(px)}\" y=\"{Html.Num(bottom + 15)}\" text-anchor=\"middle\">{Html.Escape(AxisRange.Label(t, xStep))}</text>");
            }
        }
        _body.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{Html.Num(left)}\" x2=\"{Html.Num(right)}\" y1=\"{Html.Num(bottom)}\" y2=\"{Html.Num(bottom)}\"/>");
        _body.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{Html.Num(left)}\" x2=\"{Html.Num(left)}\" y1=\"{Html.Num(top)}\" y2=\"{Html.Num(bottom)}\"/>");
        if (!string.IsNullOrEmpty(xTitle))
            _body.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-title\" x=\"{Html.Num((left + right) / 2)}\" y=\"{Html.Num(height - 4)}\" text-anchor=\"middle\">{Html.Escape(xTitle)}</text>");
        if (!string.IsNullOrEmpty(yTitle))
            _body.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-title\" transform=\"translate(12 {Html.Num((top + bottom) / 2)}) rotate(-90)\" text-anchor=\"middle\">{Html.Escape(yTitle)}</text>");
        return this;
    }

    /// <summary>A polyline through the points in order; it breaks at points without a finite value.</summary>
    public SvgPlot Line(IEnumerable<(double X, double Y)> points, string color, double strokeWidth, string? title, string? cssClass = null)
    {
        var segments = new List<List<(double, double)>> { new() };
        foreach (var (px, py) in points)
        {
            if (double.IsFinite(px) && double.IsFinite(py)) segments[^1].Add((Px(px), Py(py)));
            else if (segments[^1].Count > 0) segments.Add([]);
        }
        var drawn = segments.Where(s => s.Count > 0).ToList();
        if (drawn.Count == 0) return this;
        _body.Append(CultureInfo.InvariantCulture, $"<g class=\"{Html.Escape(cssClass ?? "series")}\">");
        if (!string.IsNullOrEmpty(title)) _body.Append("<title>").Append(Html.Escape(title)).Append("</title>");
        foreach (var s in drawn)
        {
            if (s.Count == 1)
            {
                _body.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{Html.Num(s[0].Item1)}\" cy=\"{Html.Num(s[0].Item2)}\" r=\"{Html.Num(strokeWidth + 1)}\" fill=\"{Html.Escape(color)}\"/>");
                continue;
            }
            _body.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{Html.Escape(color)}\" stroke-width=\"{Html.Num(strokeWidth)}\" stroke-linejoin=\"round\" points=\"");
            _body.AppendJoin(' ', s.Select(p => Html.Num(p.Item1) + "," + Html.Num(p.Item2)));
            _body.Append("\"/>");
        }
        _body.Append("</g>");
        return this;
    }

    /// <summary>A dot (skipped unless both values are finite).</summary>
    public SvgPlot Dot(double px, double py, double radius, string fill, string? title, string? stroke = null, string? cssClass = null)
    {
        if (!double.IsFinite(px) || !double.IsFinite(py)) return this;
        _body.Append(CultureInfo.InvariantCulture, $"<circle class=\"{Html.Escape(cssClass ?? "dot")}\" cx=\"{Html.Num(Px(px))}\" cy=\"{Html.Num(Py(py))}\" r=\"{Html.Num(radius)}\" fill=\"{Html.Escape(fill)}\"");
        if (stroke is not null) _body.Append(CultureInfo.InvariantCulture, $" stroke=\"{Html.Escape(stroke)}\" stroke-width=\"1.5\"");
        Close("circle", title);
        return this;
    }

    /// <summary>A diamond marker (resumes, restarts).</summary>
    public SvgPlot Diamond(double px, double py, double size, string fill, string? title, string? cssClass = null)
    {
        if (!double.IsFinite(px) || !double.IsFinite(py)) return this;
        double cx = Px(px), cy = Py(py);
        _body.Append(CultureInfo.InvariantCulture,
            $"<path class=\"{Html.Escape(cssClass ?? "marker")}\" d=\"M{Html.Num(cx)} {Html.Num(cy - size)}L{Html.Num(cx + size)} {Html.Num(cy)}L{Html.Num(cx)} {Html.Num(cy + size)}L{Html.Num(cx - size)} {Html.Num(cy)}Z\" fill=\"{Html.Escape(fill)}\" stroke=\"#222\" stroke-width=\"1\"");
        Close("path", title);
        return this;
    }

    /// <summary>A horizontal segment between two x values at <paramref name="py"/> (an interval such as mean ± std).</summary>
    public SvgPlot HSegment(double x0, double x1, double py, string color, double strokeWidth, string? title)
    {
        if (!double.IsFinite(x0) || !double.IsFinite(x1) || !double.IsFinite(py)) return this;
        _body.Append(CultureInfo.InvariantCulture, $"<line class=\"interval\" x1=\"{Html.Num(Px(x0))}\" x2=\"{Html.Num(Px(x1))}\" y1=\"{Html.Num(Py(py))}\" y2=\"{Html.Num(Py(py))}\" stroke=\"{Html.Escape(color)}\" stroke-width=\"{Html.Num(strokeWidth)}\" stroke-linecap=\"round\"");
        Close("line", title);
        return this;
    }

    /// <summary>A short vertical tick at (<paramref name="px"/>, <paramref name="py"/>), <paramref name="halfHeight"/> pixels up and down.</summary>
    public SvgPlot VTick(double px, double py, double halfHeight, string color, double strokeWidth, string? title)
    {
        if (!double.IsFinite(px) || !double.IsFinite(py)) return this;
        double cx = Px(px), cy = Py(py);
        _body.Append(CultureInfo.InvariantCulture, $"<line class=\"tick-mark\" x1=\"{Html.Num(cx)}\" x2=\"{Html.Num(cx)}\" y1=\"{Html.Num(cy - halfHeight)}\" y2=\"{Html.Num(cy + halfHeight)}\" stroke=\"{Html.Escape(color)}\" stroke-width=\"{Html.Num(strokeWidth)}\"");
        Close("line", title);
        return this;
    }

    /// <summary>A dashed vertical line across the plotting area at <paramref name="px"/>, with an optional label at its top.</summary>
    public SvgPlot VLine(double px, string color, string? label, string? title, string? cssClass = null)
    {
        if (!double.IsFinite(px)) return this;
        var cx = Px(px);
        _body.Append(CultureInfo.InvariantCulture, $"<g class=\"{Html.Escape(cssClass ?? "vline")}\">");
        if (!string.IsNullOrEmpty(title)) _body.Append("<title>").Append(Html.Escape(title)).Append("</title>");
        _body.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Html.Num(cx)}\" x2=\"{Html.Num(cx)}\" y1=\"{Html.Num(margin.Top)}\" y2=\"{Html.Num(height - margin.Bottom)}\" stroke=\"{Html.Escape(color)}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>");
        if (!string.IsNullOrEmpty(label))
            _body.Append(CultureInfo.InvariantCulture, $"<text class=\"marker-label\" x=\"{Html.Num(cx + 3)}\" y=\"{Html.Num(margin.Top + 10)}\" fill=\"{Html.Escape(color)}\">{Html.Escape(label)}</text>");
        _body.Append("</g>");
        return this;
    }

    /// <summary>A bar from 0 (or the bottom of the axis) up to <paramref name="value"/>, <paramref name="barWidth"/> pixels wide.</summary>
    public SvgPlot Bar(double px, double value, double barWidth, string fill, string? title, string? cssClass = null)
    {
        if (!double.IsFinite(px) || !double.IsFinite(value)) return this;
        var baseline = Py(Math.Max(y.Min, Math.Min(0, y.Max)));
        var top = Py(value);
        _body.Append(CultureInfo.InvariantCulture, $"<rect class=\"{Html.Escape(cssClass ?? "bar")}\" x=\"{Html.Num(Px(px) - barWidth / 2)}\" y=\"{Html.Num(Math.Min(top, baseline))}\" width=\"{Html.Num(barWidth)}\" height=\"{Html.Num(Math.Abs(baseline - top))}\" fill=\"{Html.Escape(fill)}\"");
        Close("rect", title);
        return this;
    }

    /// <summary>Text at a pixel position (not data coordinates).</summary>
    public SvgPlot Text(double left, double top, string text, string anchor = "start", string cssClass = "label", string? title = null)
    {
        _body.Append(CultureInfo.InvariantCulture, $"<text class=\"{Html.Escape(cssClass)}\" x=\"{Html.Num(left)}\" y=\"{Html.Num(top)}\" text-anchor=\"{Html.Escape(anchor)}\">");
        if (!string.IsNullOrEmpty(title)) _body.Append("<title>").Append(Html.Escape(title)).Append("</title>");
        _body.Append(Html.Escape(text)).Append("</text>");
        return this;
    }

    /// <summary>The plot as an inline <c>&lt;svg&gt;</c> element.</summary>
    public string Render(string cssClass, string ariaLabel, string? id = null) =>
        $"<svg class=\"{Html.Escape(cssClass)}\"{(id is null ? "" : $" id=\"{Html.Escape(id)}\"")} xmlns=\"http://www.w3.org/2000/svg\" width=\"{Html.Num(width)}\" height=\"{Html.Num(height)}\" viewBox=\"0 0 {Html.Num(width)} {Html.Num(height)}\" role=\"img\" aria-label=\"{Html.Escape(ariaLabel)}\">{_body}</svg>";

    private void Close(string element, string? title)
    {
        if (string.IsNullOrEmpty(title)) { _body.Append("/>"); return; }
        _body.Append("><title>").Append(Html.Escape(title)).Append("</title></").Append(element).Append('>');
    }
}
