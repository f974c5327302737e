using System.Globalization;
using System.Text;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;
using Sweeper.Core.Model;

namespace Sweeper.Core.Reporting;

/// <summary>How a claim of the paper fares in one sweep.</summary>
public enum ClaimVerdict
{
    /// <summary>The effect is there, in the claimed direction, by more than twice its standard error.</summary>
    Reproduced,

    /// <summary>The difference is within twice its standard error (or the numbers to judge it are missing).</summary>
    NotVisible,

    /// <summary>The opposite effect, by more than twice its standard error.</summary>
    Contradicted,
}

/// <summary>One claim, the variants compared, the numbers, and the verdict.</summary>
public sealed record ClaimRow(string Claim, string Comparison, string Evidence, ClaimVerdict Verdict);

/// <summary>
/// Judges the claims of "A Closer Look at Hardware-Friendly Weight Quantization" (Bae, Zielinski, Chatterjee 2022) on a
/// sweep that names its methods with the <c>variant</c> parameter of <c>configs/paper/*.yaml</c> (<c>float</c>,
/// <c>legacy_auto_po2</c>, <c>msqe</c>, <c>msqe+mask</c>, <c>msqe+mask+sm</c>, <c>msqe+mask+sm+stable</c>, <c>lp2_ceil</c>,
/// <c>lp2_rint</c>, <c>lp2_msqe_round</c>, <c>lsq</c>). Accuracy claims compare the mean test accuracy over seeds of the
/// completed trials of two variants: the difference d, its standard error se = √(s₁²/n₁ + s₂²/n₂) (sample standard
/// deviations), and the verdict: reproduced when d &gt; 2·se in the claimed direction, contradicted when d &lt; −2·se,
/// not visible otherwise. Instability claims compare exponent flips in each trial's last epoch the same way. A claim
/// whose variants the sweep does not hold is left out.
/// </summary>
public static class PaperClaims
{
    public const string FileName = "claims.md";
    public const string VariantKey = SpecSchema.VariantParameter;

    /// <summary>The claims the sweep can judge (empty when it has no paper variants).</summary>
    public static IReadOnlyList<ClaimRow> Judge(SweepResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var byVariant = result.Trials
            .Select(t => (Trial: t, Variant: t.Config.Parameters.FirstOrDefault(p => p.Key == VariantKey).Value as string))
            .Where(x => x.Variant is not null)
            .GroupBy(x => x.Variant!, x => x.Trial)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<TrialRecord>)g.ToList());
        var rows = new List<ClaimRow>();

        if (Has(byVariant, "msqe", "msqe+mask+sm+stable"))
        {
            var (osc, stable) = (LastEpochFlips(byVariant["msqe"]), LastEpochFlips(byVariant["msqe+mask+sm+stable"]));
            rows.Add(new ClaimRow(
                "MSQE-based power-of-two exponents keep flipping between neighbouring powers of two during training (instability)",
                "msqe (no fixes) vs msqe+mask+sm+stable, exponent flips in the last epoch",
                $"{Stat(osc, "F0")} vs {Stat(stable, "F0")} flips",
                Compare(osc, stable)));
        }
        if (Has(byVariant, "msqe+mask+sm", "msqe+mask+sm+stable"))
            rows.Add(Accuracy("Freezing the exponent at its moving average (stable scale) improves the accuracy of the MSQE-based quantizer",
                byVariant, "msqe+mask+sm+stable", "msqe+mask+sm"));
        if (Has(byVariant, "msqe", "msqe+mask"))
        {
            var row = Accuracy("Outliers pull the MSQE fit; masking them out of it improves accuracy", byVariant, "msqe+mask", "msqe");
            var (share, shareMasked) = (Last(byVariant["msqe"], MetricNames.Quant.OutlierMsqeShare), Last(byVariant["msqe+mask"], MetricNames.Quant.OutlierMsqeShare));
            var (clip, clipMasked) = (Last(byVariant["msqe"], MetricNames.Quant.ClippedFraction), Last(byVariant["msqe+mask"], MetricNames.Quant.ClippedFraction));
            rows.Add(row with
            {
                Evidence = row.Evidence + $"; share of the MSQE on outliers {Stat(shareMasked, "F3")} vs {Stat(share, "F3")}, clipped weights {Stat(clipMasked, "F4")} vs {Stat(clip, "F4")}",
            });
        }
        if (Has(byVariant, "msqe+mask", "msqe+mask+sm"))
        {
            var row = Accuracy("Weighting the MSQE by the second moments of the gradients improves accuracy", byVariant, "msqe+mask+sm", "msqe+mask");
            var spread = Last(byVariant["msqe+mask+sm"], MetricNames.Quant.SecondMomentSpread);
            rows.Add(row with { Evidence = row.Evidence + $"; spread (std/mean) of the second-moment weights at the end {Stat(spread, "F4")}" });
        }
        if (Has(byVariant, "lp2_msqe_round", "lp2_ceil"))
            rows.Add(Accuracy("For the learned log2 scale, rounding to the lower MSQE beats ceil", byVariant, "lp2_msqe_round", "lp2_ceil"));
        if (Has(byVariant, "lp2_msqe_round", "lp2_rint"))
            rows.Add(Accuracy("For the learned log2 scale, rounding to the lower MSQE beats rint", byVariant, "lp2_msqe_round", "lp2_rint"));
        if (Has(byVariant, "msqe+mask+sm+stable", "legacy_auto_po2"))
            rows.Add(Accuracy("The improved MSQE-based quantizer beats QKeras's legacy auto_po2 scale", byVariant, "msqe+mask+sm+stable", "legacy_auto_po2"));
        return rows;
    }

    /// <summary>The claims as a Markdown section (empty string when there are none).</summary>
    public static string Markdown(IReadOnlyList<ClaimRow> rows)
    {
        if (rows.Count == 0) return "";
        var sb = new StringBuilder();
        sb.Append("## The paper's claims at this scale\n\n");
        sb.Append("Test accuracy: mean ± sample std over the completed seeds. A claim is *reproduced* when the difference is in the claimed direction by more than twice its standard error, *contradicted* when it is the other way by as much, and *not visible at this scale* otherwise.\n\n");
        sb.Append("| claim | compared | evidence | verdict |\n| --- | --- | --- | --- |\n");
        foreach (var r in rows)
            sb.Append(CultureInfo.InvariantCulture, $"| {Cell(r.Claim)} | {Cell(r.Comparison)} | {Cell(r.Evidence)} | {Word(r.Verdict)} |\n");
        return sb.ToString();

        static string Cell(string s) => s.Replace("|", "\\|");
    }

    public static string Word(ClaimVerdict v) => v switch
    {
        ClaimVerdict.Reproduced => "reproduced",
        ClaimVerdict.Contradicted => "contradicted",
        _ => "not visible at this scale",
    };

    private static bool Has(Dictionary<string, IReadOnlyList<TrialRecord>> byVariant, params string[] names) => names.All(byVariant.ContainsKey);

    private static ClaimRow Accuracy(string claim, Dictionary<string, IReadOnlyList<TrialRecord>> byVariant, string better, string worse)
    {
        var a = Last(Completed(byVariant[better]), MetricNames.TestAccuracy);
        var b = Last(Completed(byVariant[worse]), MetricNames.TestAccuracy);
        return new ClaimRow(claim, $"{better} vs {worse}, test accuracy",
            $"{Stat(a, "F4")} vs {Stat(b, "F4")} (d = {Diff(a, b)})", Compare(a, b));
    }

    private static IReadOnlyList<TrialRecord> Completed(IReadOnlyList<TrialRecord> trials) => trials.Where(t => t.State == TrialState.Completed).ToList();

    private static SeedStats Last(IReadOnlyList<TrialRecord> trials, string metric) =>
        SeedStats.Of(trials.Select(t => t.Last?.Get(metric) ?? double.NaN));

    /// <summary>Flips during each trial's last epoch (the per-epoch count, else the running total's last increase).</summary>
    private static SeedStats LastEpochFlips(IReadOnlyList<TrialRecord> trials) =>
        SeedStats.Of(trials.Select(t =>
        {
            var series = QuantTrace.PerEpoch(t.Epochs, MetricNames.Quant.FlipsEpoch, MetricNames.Quant.FlipsTotal);
            return series.IsEmpty ? double.NaN : series.Points[^1].Value;
        }));

    /// <summary>Reproduced when a − b &gt; 2·se, contradicted when a − b &lt; −2·se.</summary>
    internal static ClaimVerdict Compare(SeedStats a, SeedStats b)
    {
        if (a.Count == 0 || b.Count == 0) return ClaimVerdict.NotVisible;
        double d = a.Mean - b.Mean;
        double se = Math.Sqrt(Var(a) / a.Count + Var(b) / b.Count);
        if (d > 2 * se && d > 0) return ClaimVerdict.Reproduced;
        if (d < -2 * se && d < 0) return ClaimVerdict.Contradicted;
        return ClaimVerdict.NotVisible;

        static double Var(SeedStats s) => double.IsFinite(s.Std) ? s.Std * s.Std : 0;
    }

    private static string Diff(SeedStats a, SeedStats b)
    {
        if (a.Count == 0 || b.Count == 0) return "n/a";
        double se = Math.Sqrt((double.IsFinite(a.Std) ? a.Std * a.Std : 0) / a.Count + (double.IsFinite(b.Std) ? b.Std * b.Std : 0) / b.Count);
        return string.Create(CultureInfo.InvariantCulture, $"{a.Mean - b.Mean:+0.0000;-0.0000;0.0000}, se {se:F4}");
    }

    private static string Stat(SeedStats s, string format) => s.Count switch
    {
        0 => "n/a",
        1 => s.Mean.ToString(format, CultureInfo.InvariantCulture),
        _ => string.Create(CultureInfo.InvariantCulture, $"{s.Mean.ToString(format, CultureInfo.InvariantCulture)} ± {s.Std.ToString(format, CultureInfo.InvariantCulture)}"),
    };
}
