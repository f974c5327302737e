using System.Globalization;
using System.Text;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Reporting;

/// <summary>The objective against each swept parameter, and parallel coordinates over all of them.</summary>
public static partial class HtmlReport
{
    /// <summary>The fewest trials with a value of the objective for the parameter plots to be drawn.</summary>
    public const int MinParameterPlotTrials = 2;

    /// <summary>Best trial's line in the parallel coordinates.</summary>
    private const string BestLineColor = "#d62728";

    /// <summary>Worse to better objective (light to dark blue, the lightest still visible on white): the parallel coordinates' colour scale.</summary>
    private static readonly (byte R, byte G, byte B)[] ObjectiveRamp = [(0xa6, 0xc8, 0xe4), (0x5a, 0x9b, 0xd0), (0x21, 0x71, 0xb5), (0x08, 0x30, 0x6b)];

    /// <summary>The trials the parameter plots place: those with a finite value of the objective.</summary>
    private static List<TrialRecord> WithObjective(SweepResult result) =>
        result.Trials.Where(t => double.IsFinite(t.Objective(result.Objective))).ToList();

    private static bool HasParameterPlots(SweepResult result, IReadOnlyList<ParameterAxis> axes) =>
        axes.Count > 0 && WithObjective(result).Count >= MinParameterPlotTrials;

    private static bool HasParallelPlot(SweepResult result, IReadOnlyList<ParameterAxis> axes) =>
        axes.Count > 0 && WithObjective(result).Count(t => t.State == TrialState.Completed) >= MinParameterPlotTrials;

    /// <summary>One scatter per swept parameter: x its value (log axis, categories), y the objective; the best trial ringed.</summary>
    private static void ParametersSection(StringBuilder sb, SweepResult result, IReadOnlyList<ParameterAxis> axes)
    {
        if (!HasParameterPlots(result, axes)) return;
        var objective = result.Objective;
        var trials = WithObjective(result);
        var best = result.Best;
        sb.Append("<section id=\"parameters\">\n<h2>").Append(Html.Escape(objective.Metric)).Append(" against each parameter</h2>\n");
        sb.Append("<p class=\"note\">").Append(Html.Escape($"Each trial's {objective.Metric} at its last epoch (the value the results table ranks by) against its value of each swept parameter. " +
                                                           "Log-uniform parameters on a log axis; choices one column each, the points spread sideways so that none hides another. "))
          .Append(string.Concat(new[]
          {
              (TrialState.Completed, "●", "completed"), (TrialState.Stopped, "○", "stopped early"), (TrialState.Failed, "○", "failed"),
              (TrialState.Running, "○", "unfinished"),
          }.Where(k => trials.Any(t => t.State == k.Item1 || (k.Item1 == TrialState.Running && !t.State.IsTerminal())))
           .Select(k => $"<span class=\"key\"><span style=\"color:{StateColor(k.Item1)}\">{k.Item2}</span> {k.Item3}</span> ")))
          .Append(best is null ? "" : "<span class=\"key\"><b>◉</b> best trial</span>");
        var without = result.Trials.Count - trials.Count;
        if (without > 0) sb.Append(' ').Append(Html.Escape($"{without} trial(s) without a value of {objective.Metric} are left out."));
        sb.Append("</p>\n<div class=\"param-plots\">\n");

        var y = AxisScale.Linear(AxisRange.Of(trials.Select(t => t.Objective(objective))));
        var single = axes.Count == 1;
        double width = single ? PlotWidth : (PlotWidth - 10) / 2, height = single ? 340 : 280;
        var notes = new List<string>();
        foreach (var axis in axes)
        {
            const double left = 62, right = 18;
            var extra = SvgPlot.Slants(axis.Scale, width - left - right) ? SvgPlot.SlantedDepth(axis.Scale) : 0;
            var plot = new SvgPlot(width, height + extra, axis.Scale, y, new Margin(14, right, 44 + extra, left));
            var log = axis.Kind == ParameterAxisKind.Log ? " (log scale)" : "";
            plot.Axes(axis.Key + log, objective.Metric, xTicks: single ? 9 : 5, yTicks: 5, integerX: axis.Integers, xGrid: true);
            int missing = 0;
            // The best trial last, so that it is drawn on top.
            foreach (var t in trials.OrderBy(t => IsBest(t, best) ? 1 : 0).ThenBy(t => t.Id.Index))
            {
                var position = axis.Position(t);
                if (!double.IsFinite(position)) { missing++; continue; }
                var x = axis.Kind == ParameterAxisKind.Categorical ? position + Jitter(t, 0.25) : position;
                var v = t.Objective(objective);
                var title = $"{t.Id} ({t.State.ToString().ToLowerInvariant()}) {Params(t, full: true)}: {objective.Metric} = {G(v)}";
                if (IsBest(t, best))
                {
                    plot.Dot(x, v, 9, "none", null, "#111", "ring best");
                    plot.Dot(x, v, 5, StateColor(t.State), title, "#fff", "dot best");
                }
                else if (t.State == TrialState.Completed) plot.Dot(x, v, 4, StateColor(t.State), title, "#fff", "dot completed");
                else plot.Dot(x, v, 4, "#fff", title, StateColor(t.State), "dot " + t.State.ToString().ToLowerInvariant());
            }
            if (missing > 0) notes.Add($"{axis.Key}: {missing} trial(s) without this parameter (not active) are left out.");
            sb.Append(plot.Render("plot plot-param", $"{objective.Metric} against {axis.Key}", "param-" + axis.Key)).Append('\n');
        }
        sb.Append("</div>\n");
        foreach (var note in notes) sb.Append("<p class=\"note\">").Append(Html.Escape(note)).Append("</p>\n");
        sb.Append("</section>\n");
    }

    /// <summary>
    /// Parallel coordinates: one vertical axis per swept parameter and one for the objective, one polyline per completed
    /// trial coloured by its objective (darker is better), the best trial's line on top in red.
    /// </summary>
    private static void ParallelSection(StringBuilder sb, SweepResult result, IReadOnlyList<ParameterAxis> axes)
    {
        if (!HasParallelPlot(result, axes)) return;
        var objective = result.Objective;
        var all = WithObjective(result);
        var trials = all.Where(t => t.State == TrialState.Completed).ToList();
        var best = result.Best;
        var values = trials.Select(t => t.Objective(objective)).ToList();
        var objectiveScale = AxisScale.Linear(AxisRange.Of(values));
        double worstScore = values.Min(objective.Score), bestScore = values.Max(objective.Score);
        double worst = values.First(v => objective.Score(v) == worstScore), top = values.First(v => objective.Score(v) == bestScore);

        sb.Append("<section id=\"parallel\">\n<h2>Parallel coordinates</h2>\n<p class=\"note\">");
        sb.Append(Html.Escape($"One line per completed trial through its value of each swept parameter and its {objective.Metric}; colour: {objective.Metric} from "))
          .Append(Html.Escape(G(worst))).Append(" <span class=\"colorbar\" style=\"background:linear-gradient(to right, ")
          .Append(string.Join(", ", ObjectiveRamp.Select(c => $"rgb({c.R},{c.G},{c.B})"))).Append(")\"></span> ")
          .Append(Html.Escape(G(top))).Append(Html.Escape(" (better is darker). "))
          .Append("<span class=\"key\"><span style=\"color:").Append(BestLineColor).Append("\"><b>━</b></span> best trial</span> ");
        var unfinished = all.Count - trials.Count;
        var without = result.Trials.Count - all.Count;
        if (unfinished > 0)
            sb.Append(Html.Escape($"{unfinished} trial(s) that stopped early, failed or did not finish are left out (their last value is not comparable). "));
        if (without > 0) sb.Append(Html.Escape($"{without} trial(s) without a value of {objective.Metric} are left out."));
        sb.Append("</p>\n");

        int k = axes.Count + 1;
        // Room left of the first axis for its tick labels (they stand left of every axis).
        var left = Math.Max(72, axes[0].Scale.Ticks(5).Select(t => SvgPlot.LabelWidth(t.Label)).DefaultIfEmpty(0).Max() + 14);
        const double right = 72;
        var spacing = (PlotWidth - left - right) / (k - 1);
        // A trial without a value of a numeric parameter (a conditional one not active) passes below that axis.
        bool notSet = axes.Any(a => a.Kind != ParameterAxisKind.Categorical && trials.Any(t => !double.IsFinite(a.Position(t))));
        const double notSetAt = -0.09;
        var plot = new SvgPlot(PlotWidth, notSet ? 450 : 420, AxisScale.Linear(new AxisRange(0, k - 1)), AxisScale.Linear(new AxisRange(notSet ? -0.15 : 0, 1)), new Margin(40, right, 18, left));
        var css = trials.Count > 60 ? "series pc many" : "series pc";
        // Worst first, so that the better lines, and the best last, are drawn on top.
        foreach (var t in trials.OrderBy(t => IsBest(t, best) ? 1 : 0).ThenBy(t => objective.Score(t.Objective(objective))).ThenBy(t => t.Id.Index))
        {
            var v = t.Objective(objective);
            var points = axes.Select((a, i) =>
            {
                var position = a.Position(t);
                if (!double.IsFinite(position)) return ((double)i, notSetAt);
                if (a.Kind == ParameterAxisKind.Categorical) position += Jitter(t, 0.12);
                return ((double)i, a.Scale.Fraction(position));
            }).Append((k - 1.0, objectiveScale.Fraction(v)));
            var fraction = bestScore > worstScore ? (objective.Score(v) - worstScore) / (bestScore - worstScore) : 1;
            var title = $"{t.Id} {Params(t, full: true)}: {objective.Metric} = {G(v)}";
            plot.Line(points, IsBest(t, best) ? BestLineColor : RampColor(fraction), IsBest(t, best) ? 3 : 1.4, title, IsBest(t, best) ? "series pc best" : css);
        }
        for (int i = 0; i < axes.Count; i++)
        {
            var a = axes[i];
            var suffix = a.Kind == ParameterAxisKind.Log ? " (log)" : "";
            var name = (a.Key + suffix).Length * 6.8 <= spacing - 8 ? a.Key + suffix : ShortKey(a.Key) + suffix;
            plot.VAxis(i, a.Scale, name, a.Key + suffix, spacing - 8, cssClass: "vaxis vaxis-" + a.Kind.ToString().ToLowerInvariant());
            if (a.Kind != ParameterAxisKind.Categorical && trials.Any(t => !double.IsFinite(a.Position(t))))
                plot.Text(plot.Px(i) - 6, plot.Py(notSetAt) + 3.5, ParameterAxis.NotSet, "end", "tick halo not-set");
        }
        plot.VAxis(k - 1, objectiveScale, objective.Metric, $"{objective.Metric} ({objective.Mode.ToString().ToLowerInvariant()})", spacing - 8, cssClass: "vaxis vaxis-objective");
        sb.Append(plot.Render("plot plot-parallel", $"parallel coordinates: {string.Join(", ", axes.Select(a => a.Key))} and {objective.Metric}", "parallel-plot")).Append('\n');
        sb.Append("</section>\n");
    }

    /// <summary>A fixed sideways offset in [−<paramref name="half"/>, <paramref name="half"/>) per trial (golden-ratio steps spread neighbours evenly).</summary>
    private static double Jitter(TrialRecord t, double half) => ((t.Id.Index * 0.6180339887498949) % 1 - 0.5) * 2 * half;

    /// <summary>The colour of <paramref name="fraction"/> (0 worst … 1 best) on <see cref="ObjectiveRamp"/>.</summary>
    private static string RampColor(double fraction)
    {
        var f = Math.Clamp(double.IsFinite(fraction) ? fraction : 0, 0, 1) * (ObjectiveRamp.Length - 1);
        int i = Math.Min((int)f, ObjectiveRamp.Length - 2);
        var w = f - i;
        var (a, b) = (ObjectiveRamp[i], ObjectiveRamp[i + 1]);
        int Mix(byte x, byte y) => (int)Math.Round(x + (y - x) * w);
        return $"#{Mix(a.R, b.R):x2}{Mix(a.G, b.G):x2}{Mix(a.B, b.B):x2}";
    }

    /// <summary>A value for tooltips and legends: six significant digits.</summary>
    private static string G(double v) => double.IsFinite(v) ? v.ToString("G6", CultureInfo.InvariantCulture) : "n/a";
}
