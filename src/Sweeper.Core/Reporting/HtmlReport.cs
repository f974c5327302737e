using System.Globalization;
using System.Text;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Search;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Reporting;

/// <summary>
/// <c>report.html</c>: one self-contained page (inline CSS, inline SVG, a few lines of inline script; nothing is
/// fetched) with the sweep's header, the grouped comparison, the objective of every trial, the objective against each
/// swept parameter and parallel coordinates over them, the learning curves, the quantizers' per-layer exponents with
/// flips and resumes, and the results table. All text from the run is escaped.
/// </summary>
public static partial class HtmlReport
{
    public const string FileName = "report.html";
    /// <summary>Trials whose quantizer panels are drawn (best first); the rest are named in a note.</summary>
    public const int MaxQuantTrials = 16;
    /// <summary>Rows of the per-trial and per-group objective plots (best first).</summary>
    public const int MaxObjectiveRows = 100;

    private static readonly string[] Palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
    private const string ResumeColor = "#e07b00";
    private const string RestartColor = "#7a2ea8";

    /// <summary>Where a trial's lineage turned: resumes (worker gone, coordinator restarted) and restarts for instability.</summary>
    private static IEnumerable<(int Epoch, string Color, string Label, string Title, string Css)> Turns(TrialRecord t) =>
        t.Resumes.Select(r => (r.FromEpoch, ResumeColor, "resumed", $"resumed from epoch {r.FromEpoch}: {r.Reason}", "resume"))
         .Concat(t.Attempts.Where(a => a.Number > 1).Select(a => a.Rerun
            ? (0, RestartColor, "rerun", $"rerun: attempt {a.Number} from scratch with the original config after {t.Attempts[a.Number - 2].Outcome}", "restart")
            : (a.FromEpoch, RestartColor, "restart", $"restart: attempt {a.Number} from epoch {a.FromEpoch} after {t.Attempts[a.Number - 2].Verdict?.Word()}"
                + (a.Changes.Count == 0 ? "" : " with " + string.Join(", ", a.Changes.Select(c => $"{c.Key}={c.Value}"))), "restart")));
    private const string FlipColor = "#d62728";
    private const double PlotWidth = 960;

    /// <param name="source">Where the results were read from (shown in the header), e.g. <c>journal.db</c>.</param>
    /// <param name="parameters">The spec's swept parameters, for their domains (log axes for log-uniform ones); without
    /// them the parameter plots read the kind of each axis from the values (see <see cref="ParameterAxis"/>).</param>
    public static string Render(SweepResult result, GroupTable groups, string source, IReadOnlyList<ParameterDefinition>? parameters = null)
    {
        var sb = new StringBuilder();
        var colors = GroupColors(groups);
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        sb.Append("<title>Sweep ").Append(Html.Escape(result.Name)).Append(" – Sweeper report</title>\n");
        sb.Append("<link rel=\"icon\" href=\"data:,\">\n<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n<main>\n");
        Header(sb, result, source);
        var claims = PaperClaims.Judge(result);
        sb.Append("<nav>");
        if (claims.Count > 0) sb.Append("<a href=\"#claims\">claims</a> ");
        if (groups.PoolsTrials) sb.Append("<a href=\"#groups\">groups</a> ");
        var axes = ParameterAxis.For(result, parameters);
        sb.Append("<a href=\"#objective\">objective per trial</a> ");
        if (HasParameterPlots(result, axes)) sb.Append("<a href=\"#parameters\">objective per parameter</a> ");
        if (HasParallelPlot(result, axes)) sb.Append("<a href=\"#parallel\">parallel coordinates</a> ");
        sb.Append("<a href=\"#curves\">learning curves</a> <a href=\"#quantizers\">quantizer exponents</a> <a href=\"#results\">all trials</a></nav>\n");
        if (claims.Count > 0) ClaimsSection(sb, claims);
        if (groups.PoolsTrials) GroupsSection(sb, result, groups, colors);
        DiagnosticsSection(sb, groups);
        ObjectiveSection(sb, result);
        ParametersSection(sb, result, axes);
        ParallelSection(sb, result, axes);
        CurvesSection(sb, result, groups, colors);
        QuantSection(sb, result);
        ResultsSection(sb, result);
        sb.Append("</main>\n<script>\n").Append(Script).Append("</script>\n</body>\n</html>\n");
        return sb.ToString();
    }

    private static void Header(StringBuilder sb, SweepResult result, string source)
    {
        var objective = result.Objective;
        sb.Append("<header>\n<h1>Sweep ").Append(Html.Escape(result.Name)).Append("</h1>\n<dl class=\"facts\">\n");
        Fact(sb, "objective", $"{objective.Mode.ToString().ToLowerInvariant()} {objective.Metric}");
        if (result.Best is { } best)
            sb.Append("<dt>best</dt><dd id=\"best\"><strong>").Append(Html.Escape(best.Id.ToString())).Append("</strong> ")
              .Append(Html.Escape($"{objective.Metric} = {F4(best.Objective(objective))}")).Append(' ')
              .Append("<span class=\"params\">").Append(Html.Escape(Params(best, full: true))).Append("</span></dd>\n");
        else
            Fact(sb, "best", "no trial completed with a value");
        var states = string.Join(", ", result.Trials.GroupBy(t => t.State).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}"));
        Fact(sb, "trials", $"{result.Trials.Count} ({states})");
        var (run, planned) = result.EpochTotals;
        Fact(sb, "epochs run", $"{run} of {planned} ({result.Trials.Count(t => t.State == TrialState.Stopped)} trial(s) stopped early)");
        Fact(sb, "resumes", $"{result.Trials.Sum(t => t.Resumes.Count)} in {result.Trials.Count(t => t.Resumes.Count > 0)} trial(s)");
        Fact(sb, "restarts", $"{result.Trials.Sum(t => t.Restarts)} for instability in {result.Trials.Count(t => t.Restarts > 0)} trial(s)");
        Fact(sb, "wall time", $"{(result.FinishedAt - result.StartedAt).TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s, started {result.StartedAt.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture)}");
        Fact(sb, "read from", source);
        sb.Append("</dl>\n</header>\n");
    }

    private static void ClaimsSection(StringBuilder sb, IReadOnlyList<ClaimRow> claims)
    {
        sb.Append("<section id=\"claims\">\n<h2>The paper's claims at this scale</h2>\n");
        sb.Append("<p class=\"note\">").Append(Html.Escape("Test accuracy: mean ± sample std over the completed seeds. Reproduced: the difference is in the claimed direction by more than twice its standard error; contradicted: the other way by as much; otherwise not visible at this scale.")).Append("</p>\n");
        Table(sb, new ResultTable(["claim", "compared", "evidence", "verdict"],
            claims.Select(c => (IReadOnlyList<string>)[c.Claim, c.Comparison, c.Evidence, PaperClaims.Word(c.Verdict)]).ToList()), "table-claims", _ => null);
        sb.Append("</section>\n");
    }

    /// <summary>The paper's per-network diagnostics at each group's last epoch, mean over the group's trials.</summary>
    private static void DiagnosticsSection(StringBuilder sb, GroupTable groups)
    {
        string[] metrics = [MetricNames.Quant.FlipsEpoch, MetricNames.Quant.ClippedFraction, MetricNames.Quant.ZeroFraction, MetricNames.Quant.OutlierMsqeShare, MetricNames.Quant.SecondMomentSpread];
        var rows = new List<IReadOnlyList<string>>();
        foreach (var g in groups.Groups)
        {
            var means = metrics.Select(m => g.Trials.Select(t => t.Last?.Get(m) ?? double.NaN).Where(double.IsFinite).ToList()).ToList();
            if (means.All(v => v.Count == 0)) continue;
            var row = new List<string>(g.Values);
            row.AddRange(means.Select(v => v.Count == 0 ? "" : v.Average().ToString("G4", CultureInfo.InvariantCulture)));
            rows.Add(row);
        }
        if (rows.Count == 0) return;
        sb.Append("<section id=\"diagnostics\">\n<h2>Quantizer diagnostics</h2>\n");
        sb.Append("<p class=\"note\">").Append(Html.Escape("At each trial's last epoch, mean over the group's trials: exponent flips during that epoch, fraction of weights clipped to ±qp, fraction with code 0, share of the quantization error (MSQE) on the outliers, spread (std/mean) of the second-moment MSQE weights. Per-layer values are in results.json (quant.<layer>.*).")).Append("</p>\n");
        var columns = new List<string>(groups.Keys) { "flips (last epoch)", "clipped", "zero codes", "outlier share of MSQE", "second-moment spread" };
        Table(sb, new ResultTable(columns, rows), "table-diagnostics", _ => null);
        sb.Append("</section>\n");
    }

    private static void GroupsSection(StringBuilder sb, SweepResult result, GroupTable groups, IReadOnlyDictionary<TrialId, string> colors)
    {
        sb.Append("<section id=\"groups\">\n<h2>Groups ").Append(Html.Escape(groups.Description)).Append("</h2>\n");
        sb.Append("<p class=\"note\">").Append(Html.Escape($"{result.Objective.Metric}: mean ± sample std (n − 1) over the completed trials of each group; dots are the trials, the bar is the mean, the line ± one std.")).Append("</p>\n");
        var withValues = groups.Groups.Where(g => g.Objective.Count > 0).ToList();
        var rows = withValues.Take(MaxObjectiveRows).ToList();
        if (rows.Count < withValues.Count)
            sb.Append("<p class=\"note\">").Append(Html.Escape($"The plot shows the best {rows.Count} of {withValues.Count} groups; the table has them all.")).Append("</p>\n");
        if (rows.Count > 0)
        {
            var labels = rows.Select(g => $"{GroupLabel(groups, g)} (n={g.Objective.Count})").ToList();
            var values = rows.SelectMany(g => g.Trials.Where(t => t.State == TrialState.Completed).Select(t => t.Objective(result.Objective)));
            var plot = RowPlot(labels, AxisRange.Of(values), result.Objective.Metric, out var rowY);
            for (int i = 0; i < rows.Count; i++)
            {
                var g = rows[i];
                var s = g.Objective;
                var color = colors[g.Trials[0].Id];
                if (s.Count > 1) plot.HSegment(s.Mean - s.Std, s.Mean + s.Std, rowY(i), color, 3, $"{GroupLabel(groups, g)}: {GroupTable.MeanStd(s)}");
                foreach (var t in g.Trials.Where(t => t.State == TrialState.Completed))
                    plot.Dot(t.Objective(result.Objective), rowY(i), 3.5, color, $"{t.Id} {Params(t, full: true)}: {F4(t.Objective(result.Objective))}", "#fff");
                plot.VTick(s.Mean, rowY(i), 7, "#222", 2.5, $"mean {F4(s.Mean)}");
            }
            sb.Append(plot.Render("plot plot-groups", $"{result.Objective.Metric} by group: mean and std over seeds")).Append('\n');
        }
        Table(sb, groups.Text(), "table-groups", _ => null);
        sb.Append("</section>\n");
    }

    private static void ObjectiveSection(StringBuilder sb, SweepResult result)
    {
        var objective = result.Objective;
        sb.Append("<section id=\"objective\">\n<h2>").Append(Html.Escape(objective.Metric)).Append(" per trial</h2>\n");
        var ranked = result.Ranked().Where(t => double.IsFinite(t.Objective(objective))).ToList();
        if (ranked.Count == 0)
        {
            sb.Append("<p class=\"note\">").Append(Html.Escape($"No trial reported {objective.Metric}.")).Append("</p>\n</section>\n");
            return;
        }
        var shown = ranked.Take(MaxObjectiveRows).ToList();
        sb.Append("<p class=\"note\">").Append(Html.Escape($"Last epoch of each trial, best first ({objective.Mode.ToString().ToLowerInvariant()}); colour: state. ")).Append(Legend(
            [("completed", StateColor(TrialState.Completed)), ("stopped", StateColor(TrialState.Stopped)), ("failed", StateColor(TrialState.Failed)), ("running / pending", StateColor(TrialState.Running))]));
        if (shown.Count < ranked.Count) sb.Append(Html.Escape($" The best {shown.Count} of {ranked.Count} are shown."));
        sb.Append("</p>\n");
        var best = result.Best;
        var plot = RowPlot(shown.Select(t => $"{t.Id} {Params(t, full: false)}").ToList(), AxisRange.Of(shown.Select(t => t.Objective(objective))), objective.Metric, out var rowY);
        for (int i = 0; i < shown.Count; i++)
        {
            var t = shown[i];
            var v = t.Objective(objective);
            plot.HSegment(plot.X.Min, v, rowY(i), "#e3e6ea", 1.5, null);
            plot.Dot(v, rowY(i), IsBest(t, best) ? 6 : 4.5, StateColor(t.State),
                $"{t.Id} ({t.State.ToString().ToLowerInvariant()}, {t.Epochs.Count} epoch(s)) {Params(t, full: true)}: {objective.Metric} = {F4(v)}",
                IsBest(t, best) ? "#111" : null, IsBest(t, best) ? "dot best" : "dot");
        }
        sb.Append(plot.Render("plot plot-objective", $"{objective.Metric} per trial, sorted")).Append('\n');
        sb.Append("</section>\n");
    }

    private static void CurvesSection(StringBuilder sb, SweepResult result, GroupTable groups, IReadOnlyDictionary<TrialId, string> colors)
    {
        var objective = result.Objective;
        sb.Append("<section id=\"curves\">\n<h2>Learning curves: ").Append(Html.Escape(objective.Metric)).Append(" per epoch</h2>\n");
        var trials = result.Trials.Where(t => t.Epochs.Any(e => double.IsFinite(e.Get(objective.Metric)))).ToList();
        if (trials.Count == 0)
        {
            sb.Append("<p class=\"note\">").Append(Html.Escape($"No epoch reported {objective.Metric}.")).Append("</p>\n</section>\n");
            return;
        }
        var best = result.Best;
        int maxEpoch = trials.Max(t => t.Epochs.Max(e => e.Epoch));
        var xRange = maxEpoch <= 1 ? new AxisRange(0.5, 1.5) : new AxisRange(1, maxEpoch);
        var yRange = AxisRange.Of(trials.SelectMany(t => t.Epochs.Select(e => e.Get(objective.Metric))));
        var plot = new SvgPlot(PlotWidth, 400, xRange, yRange, new Margin(14, 24, 40, 64));
        plot.Axes("epoch", objective.Metric, xTicks: Math.Min(maxEpoch, 12), yTicks: 6, integerX: true, xGrid: true);
        // The best trial last, so it is drawn on top.
        foreach (var t in trials.OrderBy(t => IsBest(t, best) ? 1 : 0).ThenBy(t => t.Id.Index))
        {
            var last = t.Last!;
            var title = $"{t.Id} {Params(t, full: true)} ({t.State.ToString().ToLowerInvariant()}): {objective.Metric} {F4(last.Get(objective.Metric))} at epoch {last.Epoch}";
            plot.Line(t.Epochs.Select(e => ((double)e.Epoch, e.Get(objective.Metric))), colors[t.Id], IsBest(t, best) ? 3.2 : 1.6, title, IsBest(t, best) ? "series curve best" : "series curve");
            foreach (var turn in Turns(t))
            {
                var at = t.Epochs.FirstOrDefault(e => e.Epoch == Math.Max(1, turn.Epoch)) ?? t.Epochs[0];
                plot.Diamond(at.Epoch, at.Get(objective.Metric), 5, turn.Color, $"{t.Id} {turn.Title}", "marker " + turn.Css);
            }
        }
        sb.Append(plot.Render("plot plot-curves", $"{objective.Metric} per epoch, one line per trial")).Append('\n');
        var legend = new List<(string, string)>();
        if (groups.Groups.Count <= 12)
            legend.AddRange(groups.Groups.Select(g => (GroupLabel(groups, g), colors[g.Trials[0].Id])));
        sb.Append("<p class=\"note\">").Append(Html.Escape(groups.Groups.Count <= 12 ? "Colour: group. " : "Colour: group (colours repeat). "))
          .Append(Legend(legend)).Append(" <span class=\"key\"><b>━</b> best trial</span> <span class=\"key\"><span style=\"color:").Append(ResumeColor).Append("\">◆</span> resumed from a checkpoint</span> <span class=\"key\"><span style=\"color:").Append(RestartColor).Append("\">◆</span> restarted (instability)</span></p>\n");
        sb.Append("</section>\n");
    }

    private static void QuantSection(StringBuilder sb, SweepResult result)
    {
        sb.Append("<section id=\"quantizers\">\n<h2>Quantizer exponents per layer</h2>\n");
        var traces = result.Ranked().Select(QuantTrace.From).OfType<QuantTrace>().ToList();
        if (traces.Count == 0)
        {
            sb.Append("<p class=\"note\">").Append(Html.Escape($"No trial reported per-layer quantizer diagnostics ({MetricNames.Quant.Prefix}<layer>{MetricNames.QuantLayer.ExponentMean}): the sweep trained no quantized model."))
              .Append("</p>\n</section>\n");
            return;
        }
        var shown = traces.Take(MaxQuantTrials).ToList();
        sb.Append("<p class=\"note\">").Append(Html.Escape("Mean power-of-two exponent of each layer's scale at the end of every epoch, the exponent flips per epoch, and where the trial resumed from a checkpoint. "));
        if (shown.Count < traces.Count) sb.Append(Html.Escape($"The best {shown.Count} of {traces.Count} quantized trials can be chosen. "));
        sb.Append("</p>\n<label class=\"chooser\">trial <select id=\"quant-trial\">");
        foreach (var q in shown)
            sb.Append("<option value=\"").Append(Html.Escape(q.Trial.Id.ToString())).Append("\">")
              .Append(Html.Escape($"{q.Trial.Id} {Params(q.Trial, full: false)} — {result.Objective.Metric} {F4(q.Trial.Objective(result.Objective))}")).Append("</option>");
        sb.Append("</select></label>\n");
        for (int i = 0; i < shown.Count; i++) QuantPanel(sb, result, shown[i], hidden: i > 0);
        sb.Append("</section>\n");
    }

    private static void QuantPanel(StringBuilder sb, SweepResult result, QuantTrace q, bool hidden)
    {
        var t = q.Trial;
        var totalFlips = q.FlipsPerEpoch.Points.Sum(p => p.Value);
        sb.Append("<div class=\"quant-panel\" data-trial=\"").Append(Html.Escape(t.Id.ToString())).Append('"').Append(hidden ? " hidden" : "").Append(">\n");
        var facts = $"{t.Id} {Params(t, full: true)}: {q.Layers.Count} quantized layer(s), {(q.FlipsPerEpoch.IsEmpty ? "no flip count" : $"{totalFlips.ToString("0", CultureInfo.InvariantCulture)} flip(s)")}, " +
                    (t.Resumes.Count == 0 ? "never resumed" : "resumed from epoch " + string.Join(", ", t.Resumes.Select(r => r.FromEpoch.ToString(CultureInfo.InvariantCulture))));
        sb.Append("<h3>").Append(Html.Escape(facts)).Append("</h3>\n");

        int maxEpoch = Math.Max(1, t.Epochs.Count == 0 ? 1 : t.Epochs.Max(e => e.Epoch));
        // Half an epoch on each side, so the flip bars fit and the panels line up epoch for epoch.
        var xRange = new AxisRange(0.5, maxEpoch + 0.5);
        var exponents = AxisRange.Of(q.Layers.SelectMany(l => l.ExponentMean.Points.Select(p => p.Value)));
        var plot = new SvgPlot(PlotWidth, 340, xRange, exponents, new Margin(18, 24, 40, 64));
        plot.Axes("epoch", "exponent (mean over channels)", xTicks: Math.Min(maxEpoch, 12), yTicks: 6, integerX: true, xGrid: true);
        foreach (var turn in Turns(t))
            plot.VLine(Math.Max(1, turn.Epoch), turn.Color, turn.Label, turn.Title, "vline " + turn.Css);
        for (int i = 0; i < q.Layers.Count; i++)
        {
            var layer = q.Layers[i];
            plot.Line(layer.ExponentMean.Points.Select(p => ((double)p.Epoch, p.Value)), LayerColor(i, q.Layers.Count), 1.6,
                $"{layer.Layer}: {layer.TotalFlips.ToString("0", CultureInfo.InvariantCulture)} flip(s)", "series exponent");
            foreach (var (epoch, flips) in layer.FlipsPerEpoch.Points.Where(p => p.Value > 0))
            {
                var e = layer.ExponentMean.Points.FirstOrDefault(p => p.Epoch == epoch);
                if (e.Epoch == epoch) plot.Dot(epoch, e.Value, 2.6, FlipColor, $"{layer.Layer}: {flips.ToString("0", CultureInfo.InvariantCulture)} flip(s) in epoch {epoch}", null, "dot flip");
            }
        }
        sb.Append(plot.Render("plot plot-exponents", $"exponent per layer per epoch, trial {t.Id}")).Append('\n');

        if (!q.FlipsPerEpoch.IsEmpty)
        {
            var flipRange = new AxisRange(0, Math.Max(1, q.FlipsPerEpoch.Points.Max(p => p.Value)) * 1.1);
            var bars = new SvgPlot(PlotWidth, 150, xRange, flipRange, new Margin(10, 24, 36, 64));
            bars.Axes("epoch", "flips", xTicks: Math.Min(maxEpoch, 12), yTicks: 3, integerX: true, integerY: true);
            var barWidth = Math.Clamp((PlotWidth - 88) / maxEpoch * 0.6, 1, 28);
            foreach (var turn in Turns(t)) bars.VLine(Math.Max(1, turn.Epoch), turn.Color, null, turn.Title, "vline " + turn.Css);
            foreach (var (epoch, flips) in q.FlipsPerEpoch.Points)
                bars.Bar(epoch, flips, barWidth, FlipColor, $"epoch {epoch}: {flips.ToString("0", CultureInfo.InvariantCulture)} flip(s)", "bar flips");
            sb.Append(bars.Render("plot plot-flips", $"exponent flips per epoch, trial {t.Id}")).Append('\n');
        }

        sb.Append("<div class=\"smalls\">\n");
        for (int i = 0; i < q.Layers.Count; i++)
        {
            var layer = q.Layers[i];
            var small = new SvgPlot(228, 118, xRange, AxisRange.Of(layer.ExponentMean.Points.Select(p => p.Value), 0.15), new Margin(20, 8, 20, 36));
            small.Axes(null, null, xTicks: Math.Min(maxEpoch, 4), yTicks: 3, integerX: true);
            foreach (var turn in Turns(t)) small.VLine(Math.Max(1, turn.Epoch), turn.Color, null, turn.Title, "vline " + turn.Css);
            small.Line(layer.ExponentMean.Points.Select(p => ((double)p.Epoch, p.Value)), LayerColor(i, q.Layers.Count), 1.8, layer.Layer, "series exponent");
            foreach (var (epoch, flips) in layer.FlipsPerEpoch.Points.Where(p => p.Value > 0))
            {
                var e = layer.ExponentMean.Points.FirstOrDefault(p => p.Epoch == epoch);
                if (e.Epoch == epoch) small.Dot(epoch, e.Value, 2.8, FlipColor, $"{flips.ToString("0", CultureInfo.InvariantCulture)} flip(s) in epoch {epoch}", null, "dot flip");
            }
            var name = layer.Layer.Length > 26 ? layer.Layer[..25] + "…" : layer.Layer;
            small.Text(4, 13, $"{name} · {layer.TotalFlips.ToString("0", CultureInfo.InvariantCulture)} flips", "start", "small-title", layer.Layer);
            sb.Append(small.Render("plot plot-layer", $"layer {layer.Layer}: exponent per epoch"));
        }
        sb.Append("\n</div>\n</div>\n");
    }

    private static void ResultsSection(StringBuilder sb, SweepResult result)
    {
        var table = ResultTable.From(result);
        var best = result.Best?.Id.ToString();
        sb.Append("<section id=\"results\">\n<h2>All trials</h2>\n<p class=\"note\">")
          .Append(Html.Escape($"The rows of summary.md and results.csv, best first by {result.Objective.Metric}, rounded for reading (results.csv and epochs.csv hold every number at full precision)."))
          .Append("</p>\n");
        int trialColumn = table.Columns.ToList().IndexOf("trial");
        Table(sb, table, "table-results", row => trialColumn >= 0 && row[trialColumn] == best ? "best" : null);
        sb.Append("</section>\n");
    }

    private static void Table(StringBuilder sb, ResultTable table, string cssClass, Func<IReadOnlyList<string>, string?> rowClass)
    {
        sb.Append("<div class=\"table-wrap\"><table class=\"").Append(Html.Escape(cssClass)).Append("\">\n<thead><tr>");
        foreach (var c in table.Columns) sb.Append("<th>").Append(Html.Escape(c)).Append("</th>");
        sb.Append("</tr></thead>\n<tbody>\n");
        int stateColumn = table.Columns.ToList().IndexOf("state");
        foreach (var row in table.Rows)
        {
            var cls = rowClass(row);
            sb.Append(cls is null ? "<tr>" : $"<tr class=\"{Html.Escape(cls)}\">");
            for (int i = 0; i < row.Count; i++)
            {
                var cell = row[i];
                var classes = new List<string>();
                if (double.TryParse(cell.Split(" ± ")[0], NumberStyles.Float, CultureInfo.InvariantCulture, out _)) classes.Add("num");
                if (i == stateColumn) classes.Add("state-" + cell);
                sb.Append(classes.Count == 0 ? "<td>" : $"<td class=\"{Html.Escape(string.Join(' ', classes))}\">").Append(Html.Escape(cell)).Append("</td>");
            }
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody></table></div>\n");
    }

    /// <summary>A plot with one labelled row per item, top to bottom, over an x axis; <paramref name="rowY"/> gives each row's y.</summary>
    private static SvgPlot RowPlot(IReadOnlyList<string> labels, AxisRange x, string xTitle, out Func<int, double> rowY)
    {
        const double rowHeight = 20;
        var longest = labels.Count == 0 ? 10 : labels.Max(l => Math.Min(l.Length, 60));
        var left = Math.Clamp(longest * 7.2 + 16, 90, 460);
        var n = labels.Count;
        var plot = new SvgPlot(PlotWidth, n * rowHeight + 52, x, new AxisRange(-0.5, n - 0.5), new Margin(8, 24, 44, left));
        plot.Axes(xTitle, null, xTicks: 8, yTicks: 0, xGrid: true);
        rowY = i => n - 1 - i;
        for (int i = 0; i < n; i++)
        {
            var label = labels[i].Length > 60 ? labels[i][..59] + "…" : labels[i];
            plot.Text(left - 8, plot.Py(n - 1 - i) + 4, label, "end", "row-label", labels[i]);
        }
        return plot;
    }

    /// <summary>One colour per group (palette order = group rank), for every trial of the group.</summary>
    private static Dictionary<TrialId, string> GroupColors(GroupTable groups)
    {
        var colors = new Dictionary<TrialId, string>();
        for (int i = 0; i < groups.Groups.Count; i++)
            foreach (var t in groups.Groups[i].Trials) colors[t.Id] = Palette[i % Palette.Length];
        return colors;
    }

    private static string GroupLabel(GroupTable groups, TrialGroup g) =>
        groups.Keys.Count == 0 ? "all trials" : string.Join(" ", groups.Keys.Select((k, i) => $"{ShortKey(k)}={g.Values[i]}"));

    /// <summary>The trial's parameters as <c>key=value</c> pairs: full dotted keys, or their last part.</summary>
    public static string Params(TrialRecord t, bool full) =>
        string.Join(" ", t.Config.Parameters.Select(p => $"{(full ? p.Key : ShortKey(p.Key))}={ResultTable.Format(p.Value)}"));

    private static bool IsBest(TrialRecord t, TrialRecord? best) => best is not null && t.Id == best.Id;

    private static string ShortKey(string key) => key[(key.LastIndexOf('.') + 1)..];

    private static string StateColor(TrialState state) => state switch
    {
        TrialState.Completed => "#4e79a7",
        TrialState.Stopped => "#d4a017",
        TrialState.Failed => "#e15759",
        _ => "#a0a4aa",
    };

    /// <summary>Layers coloured from blue (first) to red (last).</summary>
    private static string LayerColor(int index, int count)
    {
        var hue = count <= 1 ? 210 : 225 - 215.0 * index / (count - 1);
        return $"hsl({hue.ToString("0", CultureInfo.InvariantCulture)} 70% 42%)";
    }

    private static string Legend(IEnumerable<(string Label, string Color)> items) =>
        string.Join(" ", items.Select(i => $"<span class=\"key\"><span class=\"swatch\" style=\"background:{Html.Escape(i.Color)}\"></span>{Html.Escape(i.Label)}</span>"));

    private static void Fact(StringBuilder sb, string name, string value) =>
        sb.Append("<dt>").Append(Html.Escape(name)).Append("</dt><dd>").Append(Html.Escape(value)).Append("</dd>\n");

    private static string F4(double v) => double.IsFinite(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "n/a";

    private const string Css = """
        :root { color-scheme: light; }
        body { margin: 0; background: #f5f6f8; color: #1d2330; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        main { max-width: 1040px; margin: 0 auto; padding: 20px 24px 48px; }
        header { background: #fff; border: 1px solid #e1e4e8; border-radius: 8px; padding: 16px 20px; }
        h1 { font-size: 22px; margin: 0 0 10px; }
        h2 { font-size: 17px; margin: 0 0 6px; }
        h3 { font-size: 13.5px; margin: 14px 0 6px; font-weight: 600; }
        .facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 0; }
        .facts dt { color: #5b6472; }
        .facts dd { margin: 0; }
        .params { color: #5b6472; }
        nav { margin: 14px 2px; font-size: 13px; }
        nav a { margin-right: 14px; color: #2b5c9e; text-decoration: none; }
        section { background: #fff; border: 1px solid #e1e4e8; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
        .note { color: #5b6472; margin: 0 0 10px; font-size: 13px; }
        .key { margin-right: 12px; white-space: nowrap; }
        .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
        svg.plot { display: block; max-width: 100%; height: auto; margin: 6px 0; }
        svg text { font-family: inherit; }
        .tick { font-size: 11px; fill: #5b6472; }
        .axis { stroke: #9aa1ab; stroke-width: 1; }
        .grid { stroke: #eceef1; stroke-width: 1; }
        .axis-title { font-size: 12px; fill: #303846; }
        .row-label { font-size: 11.5px; fill: #1d2330; }
        .marker-label { font-size: 11px; }
        .small-title { font-size: 11px; fill: #303846; font-weight: 600; }
        .param-plots { display: flex; flex-wrap: wrap; gap: 10px; }
        .param-plots svg.plot { margin: 0; }
        .halo { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
        .pc polyline { stroke-opacity: 0.7; }
        .pc.many polyline { stroke-opacity: 0.45; }
        .pc.best polyline { stroke-opacity: 1; }
        .colorbar { display: inline-block; width: 90px; height: 10px; border-radius: 2px; vertical-align: -1px; }
        .smalls { display: flex; flex-wrap: wrap; gap: 6px; }
        .smalls svg.plot { margin: 0; border: 1px solid #eceef1; border-radius: 4px; }
        .chooser { font-size: 13px; }
        .chooser select { font: inherit; margin-left: 6px; padding: 2px 4px; max-width: 90%; }
        .table-wrap { overflow: auto; max-height: 640px; border: 1px solid #eceef1; border-radius: 4px; }
        table { border-collapse: collapse; font-size: 12.5px; font-variant-numeric: tabular-nums; width: max-content; min-width: 100%; }
        th, td { padding: 4px 9px; border-bottom: 1px solid #eceef1; text-align: left; white-space: nowrap; }
        table.table-claims { width: 100%; }
        table.table-claims td { white-space: normal; vertical-align: top; }
        th { background: #f0f2f5; position: sticky; top: 0; font-weight: 600; }
        td.num { text-align: right; }
        tr.best td { background: #eaf5ea; font-weight: 600; }
        .state-completed { color: #2e7d32; }
        .state-failed { color: #c62828; }
        .state-stopped { color: #9a6b00; }
        """;

    /// <summary>Shows the quantizer panel of the chosen trial; marks the page as ready (the tests look for it).</summary>
    private const string Script = """
        (function () {
          var select = document.getElementById('quant-trial');
          function show() {
            var panels = document.querySelectorAll('.quant-panel');
            for (var i = 0; i < panels.length; i++) panels[i].hidden = panels[i].getAttribute('data-trial') !== select.value;
          }
          if (select) { select.addEventListener('change', show); show(); }
          document.documentElement.setAttribute('data-report-ready', '1');
        })();

        """;
}
