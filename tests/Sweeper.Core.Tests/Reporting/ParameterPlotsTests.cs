using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Sweeper.Core.Reporting;
using Sweeper.Core.Search;
using static Sweeper.Core.Tests.Reporting.Runs;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Tests.Reporting;

/// <summary>The objective against each parameter and the parallel coordinates of report.html, and the log axes they use.</summary>
public partial class ParameterPlotsTests
{
    private const string Lr = "trainable.optimizer.lr";
    private const string Method = "trainable.quantizer.method";
    private const string Bits = "trainable.quantizer.bits";

    private static readonly ParameterDefinition[] Space =
    [
        new(Lr, ParameterDomain.LogUniform(1e-4, 1e-1)),
        new(Method, ParameterDomain.Values("msqe_po2", "learnable_po2", "none")),
    ];

    [Theory]
    [InlineData(1e-5, 1e-1, 8, new[] { 1e-5, 1e-4, 1e-3, 1e-2, 1e-1 })]
    [InlineData(0.002, 0.03, 8, new[] { 0.002, 0.005, 0.01, 0.02 })]
    [InlineData(0.0009, 0.0011, 4, new[] { 0.0009, 0.00095, 0.001, 0.00105, 0.0011 })] // within a tenth of a decade: linear ticks
    [InlineData(3, 7, 8, new[] { 3.0, 4, 5, 6, 7 })]
    [InlineData(1e-9, 1e3, 6, new[] { 1e-9, 1e-6, 1e-3, 1, 1e3 })] // 13 powers of ten: every third one
    public void LogTicks_Range_PowersOfTenThenMultiples(double min, double max, int target, double[] expected)
    {
        var ticks = new AxisRange(min, max).LogTicks(target);

        Assert.Equal(expected.Length, ticks.Count);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], ticks[i], expected[i] * 1e-9);
    }

    [Theory]
    [InlineData(1e-5, "1e-5")]
    [InlineData(2e-5, "2e-5")]
    [InlineData(0.001, "0.001")]
    [InlineData(0.005, "0.005")]
    [InlineData(1.0, "1")]
    [InlineData(10000.0, "10000")]
    [InlineData(1e5, "1e5")]
    [InlineData(3e-7, "3e-7")]
    public void LogLabel_Tick_PlainNearOneElseExponent(double value, string expected)
    {
        Assert.Equal(expected, AxisRange.LogLabel(value));
    }

    [Fact]
    public void OfLog_Values_WholeDecadeAroundOneValueAndPaddedInDecadesOtherwise()
    {
        var one = AxisRange.OfLog([0.01]);
        Assert.Equal(Math.Pow(10, -2.5), one.Min, 12);
        Assert.Equal(Math.Pow(10, -1.5), one.Max, 12);
        var many = AxisRange.OfLog([1e-4, 1e-2, double.NaN, -1, 0]);
        Assert.Equal(Math.Pow(10, -4.1), many.Min, 12);
        Assert.Equal(Math.Pow(10, -1.9), many.Max, 12);
    }

    [Fact]
    public void LogScale_Fraction_EqualStepsPerDecadeAndNoPlaceForZero()
    {
        var scale = AxisScale.Log(new AxisRange(1e-4, 1));

        Assert.Equal(0, scale.Fraction(1e-4), 12);
        Assert.Equal(0.25, scale.Fraction(1e-3), 12);
        Assert.Equal(0.75, scale.Fraction(0.1), 12);
        Assert.True(double.IsNaN(scale.Fraction(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => AxisScale.Log(new AxisRange(0, 1)));
    }

    [Fact]
    public void Axes_ForTheSpec_LogForLogUniformCategoriesInDomainOrderWithNotSet()
    {
        var result = SweepOf([
            Trial(1, 0, 0, 0.5, parameters: [(Lr, 1e-3), (Method, "none")]),
            Trial(2, 1, 0, 0.6, parameters: [(Lr, 1e-2), (Method, "msqe_po2"), (Bits, 4L)]),
            Trial(3, 2, 0, 0.7, parameters: [(Lr, 3e-2), (Method, "rogue"), (Bits, 8L)]),
        ]);

        var axes = ParameterAxis.For(result, [.. Space, new ParameterDefinition(Bits, ParameterDomain.IntUniform(2, 8), ParameterCondition.On(Method, "msqe_po2", "rogue"))]);

        Assert.Equal([Lr, Method, Bits], axes.Select(a => a.Key));
        Assert.Equal([ParameterAxisKind.Log, ParameterAxisKind.Categorical, ParameterAxisKind.Linear], axes.Select(a => a.Kind));
        Assert.Equal(["msqe_po2", "learnable_po2", "none", "rogue"], ((CategoryScale)axes[1].Scale).Names);
        Assert.Equal([2.0, 0, 3], result.Trials.Select(axes[1].Position));
        Assert.True(axes[2].Integers);
        Assert.True(double.IsNaN(axes[2].Position(result.Trials[0]))); // bits is not active for "none"
        Assert.Equal(1e-3, axes[0].Position(result.Trials[0]));
    }

    [Fact]
    public void Axes_WithoutTheSpec_KindsReadFromTheValues()
    {
        var result = SweepOf([
            Trial(1, 0, 0, 0.5, parameters: [("a", 1e-5), ("b", 0.1), ("c", true), ("d", 64L)]),
            Trial(2, 1, 0, 0.6, parameters: [("a", 1e-1), ("b", 0.9), ("c", false), ("d", 32L), ("e", "x")]),
        ]);

        var axes = ParameterAxis.For(result);

        Assert.Equal([ParameterAxisKind.Log, ParameterAxisKind.Linear, ParameterAxisKind.Categorical, ParameterAxisKind.Linear, ParameterAxisKind.Categorical],
            axes.Select(a => a.Kind));
        Assert.Equal(["True", "False"], ((CategoryScale)axes[2].Scale).Names);
        Assert.True(axes[3].Integers);
        Assert.Equal(["x", ParameterAxis.NotSet], ((CategoryScale)axes[4].Scale).Names);
    }

    /// <summary>Five trials: log-uniform lr and a choice of method; t0005 failed with a value, t0004 is best.</summary>
    private static SweepResult FiveTrials() => SweepOf([
        Trial(1, 0, 0, 0.61, parameters: [(Lr, 1e-4), (Method, "msqe_po2")]),
        Trial(2, 1, 0, 0.72, parameters: [(Lr, 1e-3), (Method, "learnable_po2")]),
        Trial(3, 2, 0, 0.55, parameters: [(Lr, 1e-2), (Method, "msqe_po2")]),
        Trial(4, 3, 0, 0.80, parameters: [(Lr, 3e-3), (Method, "none")]),
        Trial(5, 4, 0, 0.30, TrialState.Failed, parameters: [(Lr, 1e-1), (Method, "learnable_po2")]),
    ]);

    [Fact]
    public void Render_LogUniformParameter_LogAxisTicksAndDotsAtTheirDecades()
    {
        var result = FiveTrials();

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db", Space);

        var svg = Svg(html, "param-" + Lr);
        Assert.Contains($"{Lr} (log scale)", svg.Value);
        var ticks = TickLabels(svg);
        Assert.Equal(["1e-4", "0.001", "0.01", "0.1"], ticks.Keys);
        // A decade is as wide as the next one.
        var decade = ticks["0.001"] - ticks["1e-4"];
        Assert.True(decade > 50, $"a decade is {decade} px");
        Assert.Equal(decade, ticks["0.01"] - ticks["0.001"], 0.03);
        Assert.Equal(decade, ticks["0.1"] - ticks["0.01"], 0.03);
        // Each dot sits above its lr: 1e-3 at the 0.001 tick, 3e-3 (the best) log(3) of a decade further.
        var dots = Dots(svg);
        Assert.Equal(ticks["0.001"], dots["t0002"].X, 0.03);
        Assert.Equal(ticks["0.001"] + Math.Log10(3) * decade, dots["t0004"].X, 0.03);
        Assert.Contains("ring best", svg.ToString());
        // The failed trial is drawn hollow, in the failed colour.
        Assert.Equal("#fff", dots["t0005"].Fill);
        Assert.Contains("dot failed", dots["t0005"].Class);
        Assert.Equal(5, dots.Count);
    }

    [Fact]
    public void Render_ChoiceParameter_OneColumnPerChoiceInDomainOrderPointsSpreadInside()
    {
        var result = FiveTrials();

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db", Space);

        var svg = Svg(html, "param-" + Method);
        var ticks = TickLabels(svg);
        Assert.Equal(["msqe_po2", "learnable_po2", "none"], ticks.Keys);
        var column = ticks["learnable_po2"] - ticks["msqe_po2"];
        var dots = Dots(svg);
        foreach (var (trial, choice) in new[] { ("t0001", "msqe_po2"), ("t0003", "msqe_po2"), ("t0002", "learnable_po2"), ("t0005", "learnable_po2"), ("t0004", "none") })
            Assert.InRange(dots[trial].X, ticks[choice] - column / 4 - 0.01, ticks[choice] + column / 4 + 0.01);
        Assert.True(Math.Abs(dots["t0001"].X - dots["t0003"].X) > 8, "the two msqe trials do not hide each other");
    }

    [Fact]
    public void Render_Parallel_OnePolylinePerCompletedTrialAnAxisPerParameterAndTheObjective()
    {
        var result = FiveTrials();

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db", Space);

        var svg = Svg(html, "parallel-plot");
        var lines = svg.Descendants(Name("polyline")).ToList();
        Assert.Equal(4, lines.Count); // the failed trial is left out, and said so
        Assert.Contains("1 trial(s) that stopped early, failed or did not finish are left out", html);
        Assert.All(lines, l => Assert.Equal(3, l.Attribute("points")!.Value.Split(' ').Length));
        var axes = svg.Descendants(Name("g")).Where(g => ((string?)g.Attribute("class"))?.StartsWith("vaxis", StringComparison.Ordinal) == true).ToList();
        Assert.Equal(["vaxis vaxis-log", "vaxis vaxis-categorical", "vaxis vaxis-objective"], axes.Select(a => (string)a.Attribute("class")!));
        Assert.Contains("0.001", axes[0].Value);
        Assert.Contains("learnable_po2", axes[1].Value);

        // The best trial's line is drawn last, in its own colour, through the top of the objective axis.
        var best = svg.Descendants(Name("g")).Last(g => ((string?)g.Attribute("class"))?.Contains("pc") == true);
        Assert.Equal("series pc best", (string)best.Attribute("class")!);
        Assert.StartsWith("t0004 ", best.Element(Name("title"))!.Value);
        // lr 3e-3 sits between the 0.001 and 0.01 ticks of the log axis, log(3) of the way.
        var lrTicks = TickLabels(axes[0], horizontal: false);
        var lrY = Point(best, 0).Y;
        Assert.Equal(lrTicks["0.001"] + Math.Log10(3) * (lrTicks["0.01"] - lrTicks["0.001"]), lrY, 0.03);
        // Categories: "none" is the third of three bands.
        var methodTicks = TickLabels(axes[1], horizontal: false);
        Assert.InRange(Point(best, 1).Y, methodTicks["none"] - 20, methodTicks["none"] + 20);
        Assert.Contains("href=\"#parallel\"", html);
        Assert.Contains("href=\"#parameters\"", html);
    }

    [Fact]
    public void Render_ConditionalNumericParameter_ParallelLinesPassBelowItsAxisAtNotSet()
    {
        const string Momentum = "trainable.optimizer.momentum";
        string[] names = ["sgd", "adam"];
        var result = SweepOf(Enumerable.Range(1, 6).Select(i => Trial(i, i - 1, 0, 0.5 + 0.05 * i,
            parameters: i % 2 == 0 ? [("trainable.optimizer.name", "adam")] : [("trainable.optimizer.name", "sgd"), (Momentum, 0.5 + 0.1 * i)])));

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db",
            [new ParameterDefinition("trainable.optimizer.name", ParameterDomain.Values(names)), new ParameterDefinition(Momentum, ParameterDomain.Uniform(0.5, 0.99), ParameterCondition.On("trainable.optimizer.name", "sgd"))]);

        var svg = Svg(html, "parallel-plot");
        var lines = svg.Descendants(Name("polyline")).Select(l => Points(l.Attribute("points")!.Value).ToList()).ToList();
        Assert.Equal(6, lines.Count);
        Assert.All(lines, l => Assert.Equal(3, l.Count)); // no line breaks at the missing momentum
        var notSet = svg.Descendants(Name("text")).Single(t => (string?)t.Attribute("class") == "tick halo not-set");
        Assert.Equal(ParameterAxis.NotSet, notSet.Value);
        var belowAxis = (double)notSet.Attribute("y")! - 3.5;
        var momentumTicks = TickLabels(svg.Descendants(Name("g")).Single(g => (string?)g.Attribute("class") == "vaxis vaxis-linear"), horizontal: false);
        Assert.All(momentumTicks.Values, y => Assert.True(y < belowAxis - 10, "the momentum ticks are above (not set)"));
        Assert.Equal(3, lines.Count(l => Math.Abs(l[1].Y - belowAxis) < 0.02));
        // The scatter of momentum leaves the adam trials out, and says so.
        Assert.Equal(3, Dots(Svg(html, "param-" + Momentum)).Count);
        Assert.Contains($"{Momentum}: 3 trial(s) without this parameter (not active) are left out.", html);
    }

    [Fact]
    public void Render_OneParameter_OneWideScatterAndTwoParallelAxes()
    {
        var result = SweepOf(Enumerable.Range(1, 3).Select(i => Trial(i, i - 1, 0, 0.5 + 0.1 * i, parameters: [(Lr, Math.Pow(10, -i))])));

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db", [Space[0]]);

        var scatter = Svg(html, "param-" + Lr);
        Assert.Equal("960", (string)scatter.Attribute("width")!);
        Assert.Single(Regex.Matches(html, "class=\"plot plot-param\""));
        var parallel = Svg(html, "parallel-plot");
        Assert.Equal(3, parallel.Descendants(Name("polyline")).Count());
        Assert.Equal(2, parallel.Descendants(Name("g")).Count(g => ((string?)g.Attribute("class"))?.StartsWith("vaxis", StringComparison.Ordinal) == true));
    }

    [Fact]
    public void Render_TwoHundredTrials_EveryLineAndDotInsideThePlot()
    {
        var random = new Random(11);
        string[] methods = ["msqe_po2", "learnable_po2", "none"];
        var result = SweepOf(Enumerable.Range(1, 200).Select(i =>
            Trial(i, i - 1, 0, 0.4 + 0.5 * random.NextDouble(), i % 17 == 0 ? TrialState.Stopped : TrialState.Completed,
                parameters: [(Lr, Math.Pow(10, -4 + 3 * random.NextDouble())), (Method, methods[i % 3])])));

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db", Space);

        Assert.DoesNotContain("NaN", html);
        var parallel = Svg(html, "parallel-plot");
        Assert.Equal(200 - 200 / 17, parallel.Descendants(Name("polyline")).Count());
        Assert.Contains("series pc many", parallel.ToString());
        foreach (var id in new[] { "parallel-plot", "param-" + Lr, "param-" + Method })
        {
            var svg = Svg(html, id);
            double width = double.Parse((string)svg.Attribute("width")!, CultureInfo.InvariantCulture), height = double.Parse((string)svg.Attribute("height")!, CultureInfo.InvariantCulture);
            foreach (var (x, y) in svg.Descendants(Name("polyline")).SelectMany(l => Points(l.Attribute("points")!.Value))
                         .Concat(svg.Descendants(Name("circle")).Select(c => (X: (double)c.Attribute("cx")!, Y: (double)c.Attribute("cy")!))))
            {
                Assert.InRange(x, 0, width);
                Assert.InRange(y, 0, height);
            }
        }
        Assert.Equal(200, Dots(Svg(html, "param-" + Lr)).Count);
    }

    [Fact]
    public void Render_NoSweptParameterOrOneTrial_NoParameterSections()
    {
        var unswept = SweepOf([Trial(1, 0, 0, 0.5), Trial(2, 0, 1, 0.6)]);
        var lone = SweepOf([Trial(1, 0, 0, 0.5, parameters: [(Lr, 1e-3)])]);

        foreach (var result in new[] { unswept, lone })
        {
            var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db", Space);
            Assert.DoesNotContain("id=\"parameters\"", html);
            Assert.DoesNotContain("id=\"parallel\"", html);
            Assert.DoesNotContain("href=\"#parallel\"", html);
        }
    }

    [Fact]
    public void Render_ManyLongChoices_LabelsSlantedAndCutWithTheFullNameAsTooltip()
    {
        var names = Enumerable.Range(1, 8).Select(i => $"variant_with_a_rather_long_name_{i}").ToArray();
        var result = SweepOf(names.Select((n, i) => Trial(i + 1, i, 0, 0.5 + 0.01 * i, parameters: [("variant", n), (Lr, 1e-3 * (i + 1))])));

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db", [new ParameterDefinition("variant", ParameterDomain.Values(names)), Space[0]]);

        var svg = Svg(html, "param-variant");
        var labels = svg.Descendants(Name("text")).Where(t => (string?)t.Attribute("transform") is { } tr && tr.StartsWith("rotate(-30", StringComparison.Ordinal)).ToList();
        Assert.Equal(8, labels.Count);
        Assert.All(labels, l => Assert.EndsWith("…", l.Nodes().OfType<XText>().Single().Value));
        Assert.Equal(names, labels.Select(l => l.Element(Name("title"))!.Value));
        // In the parallel coordinates every tick label starts inside the picture (they stand left of their axis, the first one's too).
        var parallel = Svg(html, "parallel-plot");
        var ends = parallel.Descendants(Name("text")).Where(t => (string?)t.Attribute("text-anchor") == "end").ToList();
        Assert.Contains(ends, t => t.Value.EndsWith("…", StringComparison.Ordinal));
        Assert.All(ends, t => Assert.True((double)t.Attribute("x")! - SvgPlot.LabelWidth(t.Nodes().OfType<XText>().Single().Value) >= 0, $"'{t.Value}' reaches out of the picture"));
    }

    private static XName Name(string local) => XName.Get(local, "http://www.w3.org/2000/svg");

    /// <summary>The inline <c>&lt;svg&gt;</c> with <paramref name="id"/>, as XML (the report's SVG is well-formed).</summary>
    private static XElement Svg(string html, string id)
    {
        var match = Regex.Match(html, $"<svg[^>]* id=\"{Regex.Escape(id)}\".*?</svg>", RegexOptions.Singleline);
        Assert.True(match.Success, $"no svg with id {id}");
        return XElement.Parse(match.Value);
    }

    /// <summary>Tick label → its x (horizontal axis) or y (vertical axis) pixel position.</summary>
    private static Dictionary<string, double> TickLabels(XElement svg, bool horizontal = true)
    {
        var ticks = new Dictionary<string, double>();
        foreach (var t in svg.Descendants(Name("text")).Where(t => ((string?)t.Attribute("class"))?.StartsWith("tick", StringComparison.Ordinal) == true))
        {
            // x ticks are centred under the axis, or slanted; y ticks end left of it.
            if (horizontal && (string?)t.Attribute("text-anchor") != "middle" && t.Attribute("transform") is null) continue;
            var label = t.Nodes().OfType<XText>().Single().Value;
            if (horizontal) ticks.TryAdd(label, (double)t.Attribute("x")!);
            else ticks.TryAdd(label, (double)t.Attribute("y")! - 3.5);
        }
        return ticks;
    }

    private sealed record DotAt(double X, double Y, string Fill, string Class);

    /// <summary>The trials' dots by trial id (from their tooltips).</summary>
    private static Dictionary<string, DotAt> Dots(XElement svg) =>
        svg.Descendants(Name("circle")).Where(c => c.Element(Name("title")) is not null)
            .ToDictionary(c => c.Element(Name("title"))!.Value[..5], c => new DotAt((double)c.Attribute("cx")!, (double)c.Attribute("cy")!, (string)c.Attribute("fill")!, (string)c.Attribute("class")!));

    private static (double X, double Y) Point(XElement series, int index) => Points(series.Element(Name("polyline"))!.Attribute("points")!.Value).ElementAt(index);

    private static IEnumerable<(double X, double Y)> Points(string points) =>
        points.Split(' ').Select(p => p.Split(',')).Select(p => (double.Parse(p[0], CultureInfo.InvariantCulture), double.Parse(p[1], CultureInfo.InvariantCulture)));
}
