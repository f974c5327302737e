using Sweeper.Core.Search;
using Sweeper.Core.Spec;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Search;

public class RepeatPlannerTests
{
    [Theory]
    [InlineData(new[] { 0.5, 0.7 }, 0.6)]
    [InlineData(new[] { 0.5, double.NaN }, double.NaN)]
    [InlineData(new[] { double.PositiveInfinity, 1.0 }, double.NaN)]
    [InlineData(new[] { 2.0 }, 2.0)]
    public void Aggregate_RepeatObjectives_MeanOrNaNWhenAnyIsNonFinite(double[] values, double expected) =>
        Assert.Equal(expected, RepeatPlanner.Aggregate(values), 12);

    [Fact]
    public void Report_AllRepeatsOfAConfiguration_ObservesTheMeanOnce()
    {
        var searcher = new RandomSearcher(Spaces.Grid3x2(), ObjectiveMode.Max, seed: 1, numSamples: 4);
        var planner = new RepeatPlanner(searcher, sweepSeed: 9, repeat: 3);
        for (int t = 0; t < 6; t++) Assert.NotNull(planner.Plan(t));

        Assert.False(planner.Report(0, 0.1));
        Assert.False(planner.Report(2, 0.3));
        Assert.False(planner.Report(3, 0.9));
        Assert.Empty(searcher.Observations);
        Assert.True(planner.Report(1, 0.2));

        Assert.Equal(0.2, searcher.Observations[0], 12);
        Assert.Single(searcher.Observations);
        Assert.Null(planner.Plan(12));
        Assert.Equal(12, planner.TotalTrials);
    }

    [Fact]
    public void Report_TrialNeverPlanned_Throws()
    {
        var planner = new RepeatPlanner(new RandomSearcher(Spaces.Grid3x2(), ObjectiveMode.Max, 1), sweepSeed: 1, repeat: 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => planner.Report(4, 1.0));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(123456789L)]
    public void SeedForTrial_SweepSeedConfigAndRepeat_DistinctWithin31BitsAndStable(long sweepSeed)
    {
        var seeds = new HashSet<long>();
        for (int config = 0; config < 50; config++)
            for (int repeat = 0; repeat < 4; repeat++)
            {
                long seed = Seeds.ForTrial(sweepSeed, config, repeat);
                Assert.InRange(seed, 0, int.MaxValue);
                Assert.Equal(seed, Seeds.ForTrial(sweepSeed, config, repeat));
                seeds.Add(seed);
            }
        Assert.Equal(200, seeds.Count);
        Assert.NotEqual(Seeds.ForTrial(sweepSeed, 1, 0), Seeds.ForTrial(sweepSeed, 0, 1));
    }
}
