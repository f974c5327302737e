using System.Text.RegularExpressions;
using Sweeper.Core.Reporting;
using Sweeper.Core.Trials;
using static Sweeper.Core.Tests.Reporting.Runs;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Tests.Reporting;

public partial class HtmlReportTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;")]
    [InlineData("a & b", "a &amp; b")]
    [InlineData("\"quoted\" 'single'", "&quot;quoted&quot; &#39;single&#39;")]
    [InlineData("&amp;", "&amp;amp;")] // already-escaped text is escaped again: it is text, not markup
    [InlineData("tab\tnew\nline", "tab\tnew\nline")]
    [InlineData("nul\u0000bell\u0007", "nul\uFFFDbell\uFFFD")]
    [InlineData("ünïcödé ± 😀", "ünïcödé ± 😀")]
    [InlineData("", "")]
    [InlineData(null, "")]
    public void Escape_Text_SafeInContentAndQuotedAttributes(string? text, string expected)
    {
        Assert.Equal(expected, Html.Escape(text));
    }

    [Theory]
    [InlineData(1.0, "1")]
    [InlineData(-0.001, "0")]
    [InlineData(12.346, "12.35")]
    [InlineData(-3.5, "-3.5")]
    public void Num_Finite_InvariantWithTwoDecimals(double value, string expected)
    {
        Assert.Equal(expected, Html.Num(value));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Num_NotFinite_Throws(double value)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Html.Num(value));
    }

    [Theory]
    [InlineData(0.0, 1.0, 5, new[] { 0.0, 0.2, 0.4, 0.6, 0.8, 1.0 })]
    [InlineData(0.71, 0.87, 8, new[] { 0.72, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86 })]
    [InlineData(-6.5, -2.5, 4, new[] { -6.0, -5.0, -4.0, -3.0 })]
    public void Ticks_Range_StepsOf125TimesAPowerOfTen(double min, double max, int target, double[] expected)
    {
        var ticks = new AxisRange(min, max).Ticks(target);

        Assert.Equal(expected.Length, ticks.Count);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], ticks[i], 12);
    }

    [Fact]
    public void Ticks_IntegerAxisOverFewEpochs_WholeNumbersOnly()
    {
        Assert.Equal([1.0, 2.0, 3.0], new AxisRange(0.5, 3.5).Ticks(12, integers: true));
    }

    [Fact]
    public void AxisRangeOf_OneValueOrNone_ANonEmptyRange()
    {
        Assert.True(AxisRange.Of([0.8]).Max > AxisRange.Of([0.8]).Min);
        Assert.Equal(new AxisRange(0, 1), AxisRange.Of([double.NaN]));
    }

    [Fact]
    public void Render_HostileTextFromTheRun_EscapedEverywhere()
    {
        const string hostile = "<img src=x onerror=alert(1)>";
        var trial = Trial(1, 0, 0, 0.5, TrialState.Failed, parameters: [("trainable.quantizer.method", hostile), ("trainable.optimizer.lr", 0.1)]) with { Reason = "</script><script>alert(2)</script>" };
        var resumed = Trial(2, 1, 0, 0.6, parameters: [("trainable.quantizer.method", "a\"b'c&d"), ("trainable.optimizer.lr", 0.1)], resumes: 1) with
        {
            Resumes = [new TrialResume(1, "<b>worker</b> left", Start)],
        };
        var result = SweepOf([trial, resumed], name: "x</title><script>alert(3)</script>");

        var html = HtmlReport.Render(result, GroupTable.From(result, ["lr"]), "journal.db <i>");

        Assert.DoesNotContain("<img", html);
        Assert.DoesNotContain("<b>worker", html);
        Assert.DoesNotContain("<i>", html);
        Assert.Single(ScriptTag().Matches(html)); // only the page's own script
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;", html);
        Assert.Contains("&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;", html);
        Assert.Contains("<title>Sweep x&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt; – Sweeper report</title>", html);
        Assert.Contains("a&quot;b&#39;c&amp;d", html);
    }

    [Fact]
    public void Render_NaNAndMissingMetrics_NoNaNInTheMarkup()
    {
        var result = SweepOf([
            Trial(1, 0, 0, double.NaN), Trial(2, 0, 1, double.PositiveInfinity, TrialState.Failed), Trial(3, 1, 0, 0.7, epochs: 1),
            Trial(4, 2, 0, 0.9) with { Epochs = [] },
        ]);

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db");

        Assert.DoesNotContain("NaN", html);
        // The results table shows what results.csv shows (an infinite accuracy is "Infinity" there); the plots draw none.
        var svg = string.Concat(Regex.Matches(html, "<svg.*?</svg>", RegexOptions.Singleline).Select(m => m.Value));
        Assert.NotEmpty(svg);
        Assert.DoesNotContain("Infinity", svg);
        Assert.DoesNotContain("∞", svg);
        Assert.Contains("class=\"plot plot-curves\"", html);
        Assert.Contains("class=\"plot plot-objective\"", html);
    }

    [Fact]
    public void Render_NoTrialReportsTheObjective_SaysSoInsteadOfPlots()
    {
        var result = SweepOf([Trial(1, 0, 0, 0.5) with { Epochs = [] }]);

        var html = HtmlReport.Render(result, GroupTable.From(result), "results.json");

        Assert.DoesNotContain("<svg", html);
        Assert.Contains("No trial reported test_accuracy.", html);
        Assert.Contains("No trial reported per-layer quantizer diagnostics", html);
    }

    [Fact]
    public void Render_QuantizedTrials_ExponentPanelPerTrialWithFlipsResumesAndOnePlotPerLayer()
    {
        string[] layers = ["conv0", "features.1.dw", "features.1.pw", "fc"];
        var a = Quantized(1, layers, 5, (l, e) => -3 - l + (e == 3 && l == 1 ? 1 : 0), (l, e) => l == 1 && e >= 3 ? 2 : 0,
            resumes: [new TrialResume(2, "worker left", Start)]);
        var b = Quantized(2, layers, 5, (l, e) => -4 - 0.1 * e, (l, e) => 0, configIndex: 1);
        var result = SweepOf([a, b]);

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db");

        Assert.Equal(2, Count(html, "class=\"quant-panel\""));
        Assert.Contains("<select id=\"quant-trial\"><option value=\"t0002\">", html); // best first
        Assert.Contains("data-trial=\"t0001\" hidden>", html);
        Assert.Equal(2, Count(html, "class=\"plot plot-exponents\""));
        Assert.Equal(2 * layers.Length, Count(html, "class=\"plot plot-layer\""));
        Assert.Equal(2, Count(html, "class=\"plot plot-flips\""));
        Assert.Contains("features.1.dw: 2 flip(s) in epoch 3", html);
        Assert.Contains("resumed from epoch 2: worker left", html);
        Assert.Contains("features.1.dw · 2 flips", html);
    }

    [Fact]
    public void Render_ResultsTable_SameCellsAsTheCsvWithTheBestRowMarked()
    {
        var result = SweepOf([Trial(1, 0, 0, 0.5, parameters: [("trainable.optimizer.lr", 0.1)]), Trial(2, 1, 0, 0.9, parameters: [("trainable.optimizer.lr", 0.3)])]);
        var table = ResultTable.From(result);

        var html = HtmlReport.Render(result, GroupTable.From(result), "journal.db");

        foreach (var row in table.Rows)
            Assert.Contains(string.Concat(row.Select(c => ">" + Html.Escape(c) + "</td>")), CellsOnly().Replace(html, ">"));
        Assert.Contains("<tr class=\"best\"><td class=\"num\">1</td><td>t0002</td>", html);
    }

    private static int Count(string text, string part) => Regex.Matches(text, Regex.Escape(part)).Count;

    [GeneratedRegex("<script", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();

    /// <summary>Strips the attributes of table cells (<c>&lt;td class="num"&gt;</c> becomes <c>&gt;</c>).</summary>
    [GeneratedRegex("<td[^>]*>")]
    private static partial Regex CellsOnly();
}

public class QuantTraceTests
{
    [Fact]
    public void From_LayerNamesWithDots_LayersInReportedOrder()
    {
        var t = Quantized(1, ["stem", "features.10.conv", "features.2.conv"], 2, (l, e) => -l, (l, e) => 0);

        var trace = QuantTrace.From(t)!;

        Assert.Equal(["stem", "features.10.conv", "features.2.conv"], trace.Layers.Select(l => l.Layer));
        Assert.Equal([(1, -1.0), (2, -1.0)], trace.Layers[1].ExponentMean.Points);
    }

    [Fact]
    public void From_NoExponentMetrics_Null()
    {
        Assert.Null(QuantTrace.From(Trial(1, 0, 0, 0.5, lastMetrics: new Dictionary<string, double> { ["quant.flips_total"] = 3 })));
    }

    [Theory]
    [InlineData(new[] { 0.0, 3, 3, 5 }, new[] { 0.0, 3, 0, 2 })]
    [InlineData(new[] { 2.0, 4, 1, 1 }, new[] { 2.0, 2, 1, 0 })] // the count went down (a rollback): the count itself
    [InlineData(new[] { 1.0, double.NaN, 4, 4 }, new[] { 1.0, 3, 0 })] // a missing epoch: the increase since the last known count
    public void PerEpoch_RunningCount_IncreasePerEpoch(double[] running, double[] expected)
    {
        var epochs = running.Select((v, i) => new EpochResult(i + 1, new Dictionary<string, double> { ["quant.flips_total"] = v }, TimeSpan.Zero)).ToList();

        var series = QuantTrace.PerEpoch(epochs, "quant.flips_epoch", "quant.flips_total");

        Assert.Equal(expected, series.Points.Select(p => p.Value));
    }

    [Fact]
    public void PerEpoch_PerEpochMetricReported_TakenAsIs()
    {
        var epochs = new[] { 5.0, 7 }.Select((v, i) => new EpochResult(i + 1, new Dictionary<string, double> { ["quant.flips_total"] = v, ["quant.flips_epoch"] = 1 + i }, TimeSpan.Zero)).ToList();

        Assert.Equal([1.0, 2.0], QuantTrace.PerEpoch(epochs, "quant.flips_epoch", "quant.flips_total").Points.Select(p => p.Value));
    }

    [Theory]
    [InlineData("quant.features.3.conv.exponent_mean", "features.3.conv")]
    [InlineData("quant.exponent_mean", null)]
    [InlineData("quant.flips_total", null)]
    [InlineData("test_accuracy", null)]
    public void LayerOf_MetricName_TheLayerBetweenPrefixAndSuffix(string metric, string? layer)
    {
        Assert.Equal(layer, MetricNames.QuantLayer.LayerOf(metric, MetricNames.QuantLayer.ExponentMean));
    }
}
