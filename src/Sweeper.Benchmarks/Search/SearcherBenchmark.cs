using System.Globalization;
using System.Text;
using Sweeper.Core.Search;
using Sweeper.Core.Search.Tpe;
using Sweeper.Core.Spec;
using Sweeper.Core.Model;

namespace Sweeper.Benchmarks.Search;

/// <summary>Best values one searcher reached on one objective, one entry per seed.</summary>
public sealed record SearcherSummary(string Searcher, IReadOnlyList<double> BestPerSeed, IReadOnlyList<double> NoiseFreeOfBestPerSeed)
{
    /// <summary>Median over seeds of the best observed value.</summary>
    public double MedianBest => SearcherBenchmark.Quantile(BestPerSeed, 0.5);
    public double LowerQuartileBest => SearcherBenchmark.Quantile(BestPerSeed, 0.25);
    public double UpperQuartileBest => SearcherBenchmark.Quantile(BestPerSeed, 0.75);
    /// <summary>Median over seeds of the noise-free value of the best observed configuration.</summary>
    public double MedianNoiseFreeOfBest => SearcherBenchmark.Quantile(NoiseFreeOfBestPerSeed, 0.5);
}

/// <summary>TPE against random search on one objective.</summary>
public sealed record ObjectiveComparison(string Objective, string Description, ObjectiveMode Mode, double Optimum, SearcherSummary Tpe, SearcherSummary Random)
{
    /// <summary>Seeds on which TPE's best is strictly better than random search's.</summary>
    public int TpeWins => Tpe.BestPerSeed.Zip(Random.BestPerSeed).Count(p => Better(p.First, p.Second));
    /// <summary>Median distance from the optimum (of the noise-free value of the best configuration).</summary>
    public double TpeMedianRegret => Math.Abs(Optimum - Tpe.MedianNoiseFreeOfBest);
    public double RandomMedianRegret => Math.Abs(Optimum - Random.MedianNoiseFreeOfBest);

    private bool Better(double a, double b) => new ObjectiveSpec(Objective, Mode).IsBetter(a, b);
}

/// <summary>The outcome of <see cref="SearcherBenchmark.Run"/>.</summary>
public sealed record SearcherBenchmarkResult(int Trials, int Seeds, long BaseSeed, IReadOnlyList<ObjectiveComparison> Objectives)
{
    /// <summary>A Markdown table, one row per objective.</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"TPE vs random search: median best value after {Trials} trials over {Seeds} seeds (base seed {BaseSeed}); [quartiles]");
        sb.AppendLine();
        sb.AppendLine("| objective | mode | optimum | TPE median best | random median best | TPE regret | random regret | TPE wins |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var o in Objectives)
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {o.Objective} | {o.Mode.ToString().ToLowerInvariant()} | {G(o.Optimum)} | {G(o.Tpe.MedianBest)} [{G(o.Tpe.LowerQuartileBest)}, {G(o.Tpe.UpperQuartileBest)}] | {G(o.Random.MedianBest)} [{G(o.Random.LowerQuartileBest)}, {G(o.Random.UpperQuartileBest)}] | {G(o.TpeMedianRegret)} | {G(o.RandomMedianRegret)} | {o.TpeWins}/{Seeds} |");
        return sb.ToString();
    }

    public override string ToString() => ToMarkdown();

    private static string G(double x) => x.ToString("G4", CultureInfo.InvariantCulture);
}

/// <summary>Compares TPE with random search on synthetic objectives; deterministic for a base seed.</summary>
public static class SearcherBenchmark
{
    /// <summary>
    /// Runs each searcher for <paramref name="trials"/> sequential trials (suggest, evaluate,
    /// observe) on each objective, for <paramref name="seeds"/> seeds. On a given seed both searchers
    /// get the same searcher seed and the same evaluation-noise seed per trial index.
    /// </summary>
    public static SearcherBenchmarkResult Run(int trials = 50, int seeds = 20, long baseSeed = 2011, IReadOnlyList<SyntheticObjective>? objectives = null, TpeOptions? tpeOptions = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(trials, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seeds, 1);
        var comparisons = new List<ObjectiveComparison>();
        foreach (var objective in objectives ?? SyntheticObjectives.All)
        {
            SearcherSummary Summarize(string name, Func<long, ISearcher> create)
            {
                var best = new List<double>();
                var noiseFree = new List<double>();
                for (int s = 0; s < seeds; s++)
                {
                    long seed = Seeds.Derive(baseSeed, s);
                    var (b, nf) = RunOne(create(seed), objective, trials, seed);
                    best.Add(b);
                    noiseFree.Add(nf);
                }
                return new SearcherSummary(name, best, noiseFree);
            }
            comparisons.Add(new ObjectiveComparison(
                objective.Name, objective.Description, objective.Mode, objective.Optimum,
                Summarize("tpe", seed => new TpeSearcher(objective.Space, objective.Mode, seed, trials, tpeOptions)),
                Summarize("random", seed => new RandomSearcher(objective.Space, objective.Mode, seed, trials))));
        }
        return new SearcherBenchmarkResult(trials, seeds, baseSeed, comparisons);
    }

    private static (double Best, double NoiseFreeOfBest) RunOne(ISearcher searcher, SyntheticObjective objective, int trials, long seed)
    {
        double best = double.NaN, noiseFreeOfBest = double.NaN;
        for (int i = 0; i < trials; i++)
        {
            var suggestion = searcher.Suggest(i);
            if (suggestion is null) break;
            double value = objective.Evaluate(suggestion.Parameters, Seeds.Derive(seed, 0xE7A1, i));
            searcher.Observe(i, value);
            bool better = double.IsFinite(value) && new ObjectiveSpec(objective.Name, objective.Mode).IsBetter(value, best);
            if (better) (best, noiseFreeOfBest) = (value, objective.NoiseFree(suggestion.Parameters));
        }
        return (best, noiseFreeOfBest);
    }

    /// <summary>The <paramref name="p"/> quantile with linear interpolation; NaN when empty.</summary>
    internal static double Quantile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        double h = (sorted.Length - 1) * p;
        int lo = (int)Math.Floor(h);
        return lo >= sorted.Length - 1 ? sorted[^1] : sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
    }
}
