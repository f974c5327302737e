using Sweeper.Core.Reporting;
using Sweeper.Core.Trials;
using static Sweeper.Core.Tests.Reporting.Runs;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Tests.Reporting;

public sealed class PaperClaimsTests
{
    private static IEnumerable<TrialRecord> Seeds(ref int id, string variant, params (double Test, double Flips)[] seeds)
    {
        var list = new List<TrialRecord>();
        foreach (var (test, flips) in seeds)
        {
            id++;
            list.Add(Trial(id, 0, list.Count, test, parameters: [("variant", variant)],
                lastMetrics: new Dictionary<string, double> { ["quant.flips_epoch"] = flips, ["quant.flips_total"] = 2 * flips }));
        }
        return list;
    }

    [Fact]
    public void Judge_DifferencesBeyondTwoStandardErrors_ReproducedOrContradicted_ElseNotVisible()
    {
        int id = 0;
        var trials = new List<TrialRecord>();
        trials.AddRange(Seeds(ref id, "msqe", (0.70, 900), (0.71, 1100), (0.69, 1000)));
        trials.AddRange(Seeds(ref id, "msqe+mask", (0.80, 800), (0.81, 700), (0.79, 900)));              // +0.10: reproduced
        trials.AddRange(Seeds(ref id, "msqe+mask+sm", (0.805, 800), (0.79, 700), (0.80, 900)));          // ≈: not visible
        trials.AddRange(Seeds(ref id, "msqe+mask+sm+stable", (0.60, 0), (0.62, 0), (0.61, 0)));         // -0.19: contradicted
        trials.AddRange(Seeds(ref id, "lp2_ceil", (0.75, 10), (0.76, 12), (0.74, 9)));                 // lp2_rint missing: that claim is left out
        trials.AddRange(Seeds(ref id, "lp2_msqe_round", (0.78, 10), (0.60, 12), (0.90, 9)));           // noisy: not visible
        var claims = PaperClaims.Judge(SweepOf(trials));

        var verdicts = claims.ToDictionary(c => c.Comparison[..c.Comparison.IndexOf(',')], c => c.Verdict);
        Assert.Equal(ClaimVerdict.Reproduced, verdicts["msqe (no fixes) vs msqe+mask+sm+stable"]); // 1000 flips vs 0
        Assert.Equal(ClaimVerdict.Contradicted, verdicts["msqe+mask+sm+stable vs msqe+mask+sm"]);
        Assert.Equal(ClaimVerdict.Reproduced, verdicts["msqe+mask vs msqe"]);
        Assert.Equal(ClaimVerdict.NotVisible, verdicts["msqe+mask+sm vs msqe+mask"]);
        Assert.Equal(ClaimVerdict.NotVisible, verdicts["lp2_msqe_round vs lp2_ceil"]);
        Assert.Equal(5, claims.Count);
        var mask = claims.Single(c => c.Comparison.StartsWith("msqe+mask vs msqe,", StringComparison.Ordinal));
        Assert.StartsWith("0.8000 ± 0.0100 vs 0.7000 ± 0.0100 (d = +0.1000, se 0.0082)", mask.Evidence);
        Assert.Contains("| reproduced |", PaperClaims.Markdown(claims));
    }

    [Fact]
    public void Judge_SweepWithoutVariants_NoClaims()
    {
        Assert.Empty(PaperClaims.Judge(SweepOf([Trial(1, 0, 0, 0.5), Trial(2, 0, 1, 0.6)])));
        Assert.Equal("", PaperClaims.Markdown([]));
    }
}
