using Sweeper.Core.Search;
using Sweeper.Core.Spec;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Search;

public class RandomSearcherTests
{
    private static string[] Run(long seed, int n = 20, int? numSamples = null)
    {
        var searcher = new RandomSearcher(Spaces.Conditional(), ObjectiveMode.Max, seed, numSamples);
        return Enumerable.Range(0, n).Select(i => Spaces.Describe(searcher.Suggest(i))).ToArray();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(42)]
    [InlineData(-7)]
    public void Suggest_SameSeed_SameSequence(long seed) => Assert.Equal(Run(seed), Run(seed));

    [Theory]
    [InlineData(0, 1)]
    [InlineData(42, 43)]
    public void Suggest_DifferentSeeds_DifferentSequences(long a, long b) =>
        Assert.Equal(20, Run(a).Zip(Run(b)).Count(p => p.First != p.Second));

    [Fact]
    public void Suggest_OutOfOrderAndRepeated_DependsOnlyOnSeedAndIndex()
    {
        var searcher = new RandomSearcher(Spaces.Conditional(), ObjectiveMode.Max, seed: 5);
        string fifth = Spaces.Describe(searcher.Suggest(5));
        string second = Spaces.Describe(searcher.Suggest(2));
        Assert.Equal(Run(5)[5], fifth);
        Assert.Equal(Run(5)[2], second);
        Assert.Same(searcher.Suggest(5), searcher.Suggest(5));
    }

    [Fact]
    public void Suggest_ConditionalParameters_AbsentWhenInactive()
    {
        var searcher = new RandomSearcher(Spaces.Conditional(), ObjectiveMode.Max, seed: 3);
        int sgd = 0, adam = 0;
        for (int i = 0; i < 200; i++)
        {
            var s = searcher.Suggest(i)!;
            bool isSgd = (string)s["trainable.optimizer.name"]! == "sgd";
            Assert.Equal(isSgd, s["trainable.optimizer.momentum"] is not null);
            Assert.Equal(!isSgd, s["trainable.optimizer.beta2"] is not null);
            Assert.Equal(3, s.Parameters.Count);
            if (isSgd) sgd++; else adam++;
        }
        Assert.InRange(sgd, 70, 130);
        Assert.InRange(adam, 70, 130);
    }

    [Fact]
    public void Suggest_NumSamplesReached_ReturnsNull()
    {
        var runs = Run(1, n: 4, numSamples: 3);
        Assert.Equal("<null>", runs[3]);
        Assert.DoesNotContain("<null>", runs.Take(3));
    }

    [Fact]
    public void Observe_IndexNeverSuggested_Throws()
    {
        var searcher = new RandomSearcher(Spaces.Conditional(), ObjectiveMode.Max, seed: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => searcher.Observe(0, 1.0));
        searcher.Suggest(0);
        searcher.Observe(0, double.NaN);
        Assert.True(double.IsNaN(searcher.Observations[0]));
    }
}
