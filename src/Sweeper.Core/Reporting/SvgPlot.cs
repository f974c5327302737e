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

    /// <summary>
    /// The range of the positive finite <paramref name="values"/> for a log axis, widened by <paramref name="pad"/> of its
    /// span in decades on each side (a single value gets half a decade each way; no value gives 1..10).
    /// </summary>
    public static AxisRange OfLog(IEnumerable<double> values, double pad = 0.05)
    {
        var logs = values.Where(v => double.IsFinite(v) && v > 0).Select(Math.Log10).ToList();
        if (logs.Count == 0) return new AxisRange(1, 10);
        double lo = logs.Min(), hi = logs.Max();
        var range = hi - lo < 1e-9 ? new AxisRange(lo - 0.5, hi + 0.5) : new AxisRange(lo - (hi - lo) * pad, hi + (hi - lo) * pad);
        return new AxisRange(Math.Pow(10, range.Min), Math.Pow(10, range.Max));
    }

    /// <summary>
    /// Ticks of a log axis over this (positive) range: powers of ten (every k-th when there are more than about
    /// <paramref name="target"/>); when that gives fewer than three, 1, 2 and 5 × 10ⁿ, then 1…9 × 10ⁿ; when even that
    /// gives fewer than three (a range within about a third of a decade), the linear ticks of the range.
    /// </summary>
    public IReadOnlyList<double> LogTicks(int target) => LogTicks(target, out _);

    /// <param name="linearStep">The step when the ticks are the linear ones (a range within about a decade), else null.</param>
    public IReadOnlyList<double> LogTicks(int target, out double? linearStep)
    {
        linearStep = null;
        if (!(Min > 0) || !(Max > Min)) return [];
        target = Math.Max(2, target);
        int first = (int)Math.Floor(Math.Log10(Min)), last = (int)Math.Ceiling(Math.Log10(Max));
        foreach (var mantissas in new[] { new[] { 1.0 }, [1.0, 2.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0] })
        {
            var ticks = new List<double>();
            for (int n = first; n <= last; n++)
                foreach (var m in mantissas)
                {
                    var t = m * Math.Pow(10, n);
                    if (t >= Min * (1 - 1e-12) && t <= Max * (1 + 1e-12)) ticks.Add(t);
                }
            if (ticks.Count < 3) continue;
            if (mantissas.Length == 1 && ticks.Count > target)
            {
                int every = (int)Math.Ceiling(ticks.Count / (double)target);
                ticks = ticks.Where(t => (int)Math.Round(Math.Log10(t)) % every == 0).ToList();
            }
            return ticks;
        }
        linearStep = Step(target);
        return Ticks(target).Where(t => t > 0).ToList();
    }

    /// <summary>A log-axis tick: plain for 10⁻³…10⁴ (<c>0.002</c>, <c>500</c>), otherwise <c>2e-5</c>.</summary>
    public static string LogLabel(double value)
    {
        if (!(value > 0) || !double.IsFinite(value)) return value.ToString("G6", CultureInfo.InvariantCulture);
        var exponent = (int)Math.Floor(Math.Log10(value) + 1e-9);
        if (exponent is >= -3 and <= 4) return value.ToString("G6", CultureInfo.InvariantCulture);
        var mantissa = Math.Round(value / Math.Pow(10, exponent), 2);
        return mantissa.ToString("0.##", CultureInfo.InvariantCulture) + "e" + exponent.ToString(CultureInfo.InvariantCulture);
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

/// <summary>How an axis places data values: linearly, on a log scale, or as named categories at 0, 1, … n − 1.</summary>
public abstract class AxisScale
{
    private protected AxisScale(AxisRange range) => Range = range;

    /// <summary>The data interval the axis spans (categories: −0.5 … n − 0.5).</summary>
    public AxisRange Range { get; }

    /// <summary>Where <paramref name="value"/> lies along the axis: 0 at the range's start, 1 at its end; NaN when it has no place (≤ 0 on a log axis).</summary>
    public abstract double Fraction(double value);

    /// <summary>Tick values and their labels, about <paramref name="target"/> of them.</summary>
    public abstract IReadOnlyList<(double Value, string Label)> Ticks(int target, bool integers = false);

    public static LinearScale Linear(AxisRange range) => new(range);
    public static LogScale Log(AxisRange range) => new(range);
    public static CategoryScale Categories(IReadOnlyList<string> names) => new(names);
}

/// <summary>A linear axis: ticks at 1, 2 or 5 × 10ⁿ steps.</summary>
public sealed class LinearScale(AxisRange range) : AxisScale(range)
{
    public override double Fraction(double value) => (value - Range.Min) / (Range.Max - Range.Min);

    public override IReadOnlyList<(double Value, string Label)> Ticks(int target, bool integers = false)
    {
        var step = Range.Step(target, integers);
        return Range.Ticks(target, integers).Select(t => (t, AxisRange.Label(t, step))).ToList();
    }
}

/// <summary>A log₁₀ axis over a positive range: ticks at powers of ten (see <see cref="AxisRange.LogTicks"/>).</summary>
public sealed class LogScale : AxisScale
{
    public LogScale(AxisRange range) : base(range)
    {
        if (!(range.Min > 0) || !(range.Max > range.Min) || !double.IsFinite(range.Max))
            throw new ArgumentOutOfRangeException(nameof(range), range, "a log axis needs 0 < min < max");
    }

    public override double Fraction(double value) =>
        value > 0 ? (Math.Log10(value) - Math.Log10(Range.Min)) / (Math.Log10(Range.Max) - Math.Log10(Range.Min)) : double.NaN;

    public override IReadOnlyList<(double Value, string Label)> Ticks(int target, bool integers = false)
    {
        var ticks = Range.LogTicks(target, out var linearStep);
        return ticks.Select(t => (t, linearStep is { } step ? AxisRange.Label(t, step) : AxisRange.LogLabel(t))).ToList();
    }
}

/// <summary>Named categories at 0, 1, … n − 1 (the range is −0.5 … n − 0.5); every category is a tick.</summary>
public sealed class CategoryScale(IReadOnlyList<string> names) : AxisScale(new AxisRange(-0.5, Math.Max(1, names.Count) - 0.5))
{
    public IReadOnlyList<string> Names => names;

    public override double Fraction(double value) => (value - Range.Min) / (Range.Max - Range.Min);

    public override IReadOnlyList<(double Value, string Label)> Ticks(int target, bool integers = false) =>
        names.Select((n, i) => ((double)i, n)).ToList();
}

/// <summary>
/// A small SVG plot: data coordinates map into the area inside <see cref="Margin"/> through each axis's
/// <see cref="AxisScale"/> (linear unless given). Only finite values are drawn (a line breaks where a value is missing
/// or has no place on a log axis), so the markup never holds NaN. Every text is escaped.
/// </summary>
public sealed class SvgPlot
{
    /// <summary>Longest tick label drawn whole; longer category names are cut with … (the whole name is their tooltip).</summary>
    public const int MaxTickLabel = 22;

    private readonly StringBuilder _body = new();
    private readonly double _width, _height;
    private readonly Margin _margin;

    public SvgPlot(double width, double height, AxisRange x, AxisRange y, Margin margin)
        : this(width, height, AxisScale.Linear(x), AxisScale.Linear(y), margin) { }

    public SvgPlot(double width, double height, AxisScale x, AxisScale y, Margin margin)
    {
        (_width, _height, _margin) = (width, height, margin);
        (XScale, YScale) = (x, y);
    }

    public double Width => _width;
    public double Height => _height;
    public AxisScale XScale { get; }
    public AxisScale YScale { get; }
    public AxisRange X => XScale.Range;
    public AxisRange Y => YScale.Range;

    public double Px(double value) => _margin.Left + XScale.Fraction(value) * (_width - _margin.Left - _margin.Right);

    public double Py(double value) => _height - _margin.Bottom - YScale.Fraction(value) * (_height - _margin.Top - _margin.Bottom);

    /// <summary>About how wide <paramref name="label"/> is as a tick label (11 px text), in pixels.</summary>
    public static double LabelWidth(string label) => Math.Min(label.Length, MaxTickLabel) * 6.4;

    /// <summary>
    /// True when the x tick labels of <paramref name="scale"/> do not fit side by side in <paramref name="innerWidth"/>
    /// pixels, so <see cref="Axes"/> slants them (callers give such a plot a deeper bottom _margin, see <see cref="SlantedDepth"/>).
    /// </summary>
    public static bool Slants(AxisScale scale, double innerWidth) =>
        scale is CategoryScale c && c.Names.Count > 0 && c.Names.Max(LabelWidth) + 8 > innerWidth / c.Names.Count;

    /// <summary>How far slanted tick labels of <paramref name="scale"/> reach below the axis, in pixels.</summary>
    public static double SlantedDepth(AxisScale scale) =>
        scale is CategoryScale c && c.Names.Count > 0 ? c.Names.Max(LabelWidth) * 0.5 + 16 : 16;

    /// <summary>Grid lines, tick labels and axis titles.</summary>
    /// <param name="yTicks">About how many y ticks (0: none, for plots whose rows are labelled).</param>
    /// <param name="xGrid">Vertical grid lines at the x ticks.</param>
    /// <param name="integerY">Whole-number y ticks (counts).</param>
    public SvgPlot Axes(string? xTitle, string? yTitle, int xTicks = 6, int yTicks = 5, bool integerX = false, bool xGrid = false, bool integerY = false)
    {
        double left = _margin.Left, right = _width - _margin.Right, top = _margin.Top, bottom = _height - _margin.Bottom;
        foreach (var (t, label) in yTicks > 0 ? YScale.Ticks(yTicks, integerY) : [])
        {
            var py = Py(t);
            _body.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{Html.Num(left)}\" x2=\"{Html.Num(right)}\" y1=\"{Html.Num(py)}\" y2=\"{Html.Num(py)}\"/>");
            TickLabel(left - 4, py + 3.5, label, "end", null);
        }
        if (xTicks > 0)
        {
            bool slant = Slants(XScale, right - left);
            foreach (var (t, label) in XScale.Ticks(xTicks, integerX))
            {
                var px = Px(t);
                if (xGrid)
                    _body.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{Html.Num(px)}\" x2=\"{Html.Num(px)}\" y1=\"{Html.Num(top)}\" y2=\"{Html.Num(bottom)}\"/>");
                _body.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{Html.Num(px)}\" x2=\"{Html.Num(px)}\" y1=\"{Html.Num(bottom)}\" y2=\"{Html.Num(bottom + 4)}\"/>");
                if (slant) TickLabel(px + 3, bottom + 13, label, "end", $"rotate(-30 {Html.Num(px + 3)} {Html.Num(bottom + 13)})");
                else TickLabel(px, bottom + 15, label, "middle", null);
            }
        }
        _body.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{Html.Num(left)}\" x2=\"{Html.Num(right)}\" y1=\"{Html.Num(bottom)}\" y2=\"{Html.Num(bottom)}\"/>");
        _body.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{Html.Num(left)}\" x2=\"{Html.Num(left)}\" y1=\"{Html.Num(top)}\" y2=\"{Html.Num(bottom)}\"/>");
        if (!string.IsNullOrEmpty(xTitle))
            _body.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-title\" x=\"{Html.Num((left + right) / 2)}\" y=\"{Html.Num(_height - 4)}\" text-anchor=\"middle\">{Html.Escape(xTitle)}</text>");
        if (!string.IsNullOrEmpty(yTitle))
            _body.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-title\" transform=\"translate(12 {Html.Num((top + bottom) / 2)}) rotate(-90)\" text-anchor=\"middle\">{Html.Escape(yTitle)}</text>");
        return this;
    }

    /// <summary>
    /// A vertical axis at data x <paramref name="px"/> (parallel coordinates, whose y data are each axis's
    /// <see cref="AxisScale.Fraction"/>: 0 at the start of its range, 1 at its end): a line across the plotting area, the
    /// ticks of <paramref name="scale"/> at their fractions, and <paramref name="title"/> above it (cut to
    /// <paramref name="titleWidth"/> pixels; <paramref name="tooltip"/> names it in full).
    /// </summary>
    public SvgPlot VAxis(double px, AxisScale scale, string title, string? tooltip, double titleWidth, int ticks = 5, string cssClass = "vaxis")
    {
        var cx = Px(px);
        double top = _margin.Top, bottom = _height - _margin.Bottom;
        _body.Append(CultureInfo.InvariantCulture, $"<g class=\"{Html.Escape(cssClass)}\">");
        _body.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{Html.Num(cx)}\" x2=\"{Html.Num(cx)}\" y1=\"{Html.Num(top)}\" y2=\"{Html.Num(bottom)}\"/>");
        foreach (var (t, label) in scale.Ticks(ticks))
        {
            var f = scale.Fraction(t);
            if (!double.IsFinite(f) || f < -1e-9 || f > 1 + 1e-9) continue;
            var py = Py(f);
            _body.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{Html.Num(cx - 4)}\" x2=\"{Html.Num(cx)}\" y1=\"{Html.Num(py)}\" y2=\"{Html.Num(py)}\"/>");
            TickLabel(cx - 6, py + 3.5, label, "end", null, "tick halo");
        }
        var chars = Math.Max(4, (int)(titleWidth / 6.8));
        var shown = title.Length > chars ? title[..(chars - 1)] + "…" : title;
        // Centred over the axis, but kept inside the picture (the first and last axes stand near its edges).
        var half = shown.Length * 6.8 / 2;
        var tx = Math.Max(half + 2, Math.Min(_width - half - 2, cx));
        _body.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-title\" x=\"{Html.Num(tx)}\" y=\"{Html.Num(top - 10)}\" text-anchor=\"middle\">");
        if (!string.IsNullOrEmpty(tooltip)) _body.Append("<title>").Append(Html.Escape(tooltip)).Append("</title>");
        _body.Append(Html.Escape(shown)).Append("</text></g>");
        return this;
    }

    private void TickLabel(double left, double top, string label, string anchor, string? transform, string cssClass = "tick")
    {
        var shown = label.Length > MaxTickLabel ? label[..(MaxTickLabel - 1)] + "…" : label;
        _body.Append(CultureInfo.InvariantCulture, $"<text class=\"{Html.Escape(cssClass)}\" x=\"{Html.Num(left)}\" y=\"{Html.Num(top)}\" text-anchor=\"{anchor}\"");
        if (transform is not null) _body.Append(" transform=\"").Append(transform).Append('"');
        _body.Append('>');
        if (shown != label) _body.Append("<title>").Append(Html.Escape(label)).Append("</title>");
        _body.Append(Html.Escape(shown)).Append("</text>");
    }

    /// <summary>A polyline through the points in order; it breaks at points without a finite value.</summary>
    public SvgPlot Line(IEnumerable<(double X, double Y)> points, string color, double strokeWidth, string? title, string? cssClass = null)
    {
        var segments = new List<List<(double, double)>> { new() };
        foreach (var (px, py) in points)
        {
            var (cx, cy) = (Px(px), Py(py));
            if (double.IsFinite(cx) && double.IsFinite(cy)) segments[^1].Add((cx, cy));
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
        var (cx, cy) = (Px(px), Py(py));
        if (!double.IsFinite(cx) || !double.IsFinite(cy)) return this;
        _body.Append(CultureInfo.InvariantCulture, $"<circle class=\"{Html.Escape(cssClass ?? "dot")}\" cx=\"{Html.Num(cx)}\" cy=\"{Html.Num(cy)}\" r=\"{Html.Num(radius)}\" fill=\"{Html.Escape(fill)}\"");
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
        _body.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Html.Num(cx)}\" x2=\"{Html.Num(cx)}\" y1=\"{Html.Num(_margin.Top)}\" y2=\"{Html.Num(_height - _margin.Bottom)}\" stroke=\"{Html.Escape(color)}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>");
        if (!string.IsNullOrEmpty(label))
            _body.Append(CultureInfo.InvariantCulture, $"<text class=\"marker-label\" x=\"{Html.Num(cx + 3)}\" y=\"{Html.Num(_margin.Top + 10)}\" fill=\"{Html.Escape(color)}\">{Html.Escape(label)}</text>");
        _body.Append("</g>");
        return this;
    }

    /// <summary>A bar from 0 (or the bottom of the axis) up to <paramref name="value"/>, <paramref name="barWidth"/> pixels wide.</summary>
    public SvgPlot Bar(double px, double value, double barWidth, string fill, string? title, string? cssClass = null)
    {
        if (!double.IsFinite(px) || !double.IsFinite(value)) return this;
        var baseline = Py(Math.Max(Y.Min, Math.Min(0, Y.Max)));
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
        $"<svg class=\"{Html.Escape(cssClass)}\"{(id is null ? "" : $" id=\"{Html.Escape(id)}\"")} xmlns=\"http://www.w3.org/2000/svg\" width=\"{Html.Num(_width)}\" height=\"{Html.Num(_height)}\" viewBox=\"0 0 {Html.Num(_width)} {Html.Num(_height)}\" role=\"img\" aria-label=\"{Html.Escape(ariaLabel)}\">{_body}</svg>";

    private void Close(string element, string? title)
    {
        if (string.IsNullOrEmpty(title)) { _body.Append("/>"); return; }
        _body.Append("><title>").Append(Html.Escape(title)).Append("</title></").Append(element).Append('>');
    }
}
