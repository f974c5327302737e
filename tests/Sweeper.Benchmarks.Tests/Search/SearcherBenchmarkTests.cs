using Sweeper.Benchmarks.Search;
using Sweeper.Core.Spec;
using Sweeper.Core.Model;

namespace Sweeper.Benchmarks.Tests.Search;

public class SearcherBenchmarkTests
{
    [Fact]
    public void Run_FiftyTrialsTwentySeeds_TpeBeatsRandomOnEveryObjective()
    {
        var result = SearcherBenchmark.Run(trials: 50, seeds: 20);

        Assert.Equal(["branin-log-lr", "conditional-optimizer", "noisy-trainable"], result.Objectives.Select(o => o.Objective));
        foreach (var o in result.Objectives)
        {
            bool better = o.Mode == ObjectiveMode.Max ? o.Tpe.MedianBest > o.Random.MedianBest : o.Tpe.MedianBest < o.Random.MedianBest;
            Assert.True(better, $"{o.Objective}: TPE median {o.Tpe.MedianBest} vs random {o.Random.MedianBest}");
            Assert.True(o.TpeMedianRegret < 0.75 * o.RandomMedianRegret, $"{o.Objective}: TPE regret {o.TpeMedianRegret} vs random {o.RandomMedianRegret}");
            Assert.True(o.TpeWins >= 12, $"{o.Objective}: TPE better on only {o.TpeWins}/20 seeds");
        }
        Assert.Contains("| branin-log-lr | min |", result.ToMarkdown());
    }

    [Theory]
    [InlineData(-Math.PI, 12.275)]
    [InlineData(Math.PI, 2.275)]
    [InlineData(9.42478, 2.475)]
    public void Branin_GlobalMinima_Value0397887(double x1, double x2) =>
        Assert.Equal(0.397887, SyntheticObjectives.Branin(x1, x2), 5);
}
