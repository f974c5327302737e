using Sweeper.Core.Search;
using Sweeper.Core.Spec;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Search;

public class GridSearcherTests
{
    [Fact]
    public void Suggest_3x2Grid_SixConfigurationsFirstKeySlowestThenExhausted()
    {
        var grid = new GridSearcher(Spaces.Grid3x2(), ObjectiveMode.Max, seed: 1);
        var all = Enumerable.Range(0, 7).Select(i => Spaces.Describe(grid.Suggest(i))).ToArray();
        Assert.Equal(
            new[]
            {
                "trainable.width=0.25, trainable.batch_size=32",
                "trainable.width=0.25, trainable.batch_size=64",
                "trainable.width=0.5, trainable.batch_size=32",
                "trainable.width=0.5, trainable.batch_size=64",
                "trainable.width=1, trainable.batch_size=32",
                "trainable.width=1, trainable.batch_size=64",
                "<null>",
            },
            all);
        Assert.Equal(6, grid.Count);
    }

    [Fact]
    public void Plan_3x2GridRepeat2_TwelveTrialsWithDistinctSeeds()
    {
        var planner = new RepeatPlanner(new GridSearcher(Spaces.Grid3x2(), ObjectiveMode.Max, seed: 1), sweepSeed: 2024, repeat: 2);
        var trials = Enumerable.Range(0, 13).Select(planner.Plan).ToList();

        Assert.Null(trials[12]);
        var planned = trials.Take(12).Select(t => t!).ToList();
        Assert.Equal(12, planner.TotalTrials);
        Assert.Equal(12, planned.Select(t => t.Seed).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (i + 1, i / 2, i % 2)), planned.Select(t => (t.Id.Index, t.ConfigIndex, t.RepeatIndex)));
        Assert.Equal(6, planned.Select(t => ParameterValues.Format(t.Parameters)).Distinct().Count());
        Assert.Equal(planned[0].Parameters, planned[1].Parameters);
    }

    [Theory]
    [InlineData(false, 2 + 3)]
    [InlineData(true, 2 * 2 * 3)]
    public void Count_ConditionalParameters_InactiveOnesAddNoBranches(bool unconditional, int expected)
    {
        var space = new SearchSpace(
            new ParameterDefinition("opt", ParameterDomain.Values("sgd", "adam")),
            new ParameterDefinition("momentum", ParameterDomain.Values(0.9, 0.99), unconditional ? null : ParameterCondition.On("opt", "sgd")),
            new ParameterDefinition("beta2", ParameterDomain.Values(0.9, 0.99, 0.999), unconditional ? null : ParameterCondition.On("opt", "adam")));
        var grid = new GridSearcher(space, ObjectiveMode.Max, seed: 1);

        var suggestions = Enumerable.Range(0, expected + 1).Select(grid.Suggest).ToList();

        Assert.Equal(expected, grid.Count);
        Assert.Null(suggestions[expected]);
        Assert.Equal(expected, suggestions.Take(expected).Select(Spaces.Describe).Distinct().Count());
        if (!unconditional)
        {
            Assert.Equal("opt=sgd, momentum=0.9", Spaces.Describe(suggestions[0]));
            Assert.Equal("opt=sgd, momentum=0.99", Spaces.Describe(suggestions[1]));
            Assert.Equal("opt=adam, beta2=0.999", Spaces.Describe(suggestions[4]));
        }
    }

    [Fact]
    public void Constructor_ContinuousDomainWithoutNumSamples_ThrowsNamingTheKey()
    {
        var space = new SearchSpace(
            new ParameterDefinition("trainable.width", ParameterDomain.Values(0.25, 0.5)),
            new ParameterDefinition("trainable.optimizer.lr", ParameterDomain.LogUniform(1e-4, 1)));
        var ex = Assert.Throws<SearchSpaceException>(() => new GridSearcher(space, ObjectiveMode.Max, seed: 1));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("trainable.optimizer.lr", error.Key);
        Assert.Contains("num_samples", error.Message);
    }

    [Fact]
    public void Suggest_ContinuousDomainWithNumSamples_RepeatsTheGridResamplingTheContinuousValue()
    {
        var space = new SearchSpace(
            new ParameterDefinition("trainable.width", ParameterDomain.Values(0.25, 0.5)),
            new ParameterDefinition("trainable.optimizer.lr", ParameterDomain.LogUniform(1e-4, 1)));
        var grid = new GridSearcher(space, ObjectiveMode.Max, seed: 1, numSamples: 3);

        var suggestions = Enumerable.Range(0, 7).Select(grid.Suggest).ToList();

        Assert.Equal(6, grid.Count);
        Assert.Null(suggestions[6]);
        Assert.Equal(new object[] { 0.25, 0.5, 0.25, 0.5, 0.25, 0.5 }, suggestions.Take(6).Select(s => s!["trainable.width"]));
        var lrs = suggestions.Take(6).Select(s => (double)s!["trainable.optimizer.lr"]!).ToList();
        Assert.All(lrs, lr => Assert.InRange(lr, 1e-4, 1));
        Assert.Equal(6, lrs.Distinct().Count());
    }

    [Fact]
    public void Suggest_IntAndQuantisedDomains_EnumeratesTheirGrids()
    {
        var space = new SearchSpace(
            new ParameterDefinition("bits", ParameterDomain.IntUniform(2, 4)),
            new ParameterDefinition("wd", ParameterDomain.Uniform(0, 0.2, 0.1)));
        var grid = new GridSearcher(space, ObjectiveMode.Min, seed: 1);
        Assert.Equal(9, grid.Count);
        Assert.Equal("bits=2, wd=0.1", Spaces.Describe(grid.Suggest(1)));
        Assert.Equal("bits=4, wd=0.2", Spaces.Describe(grid.Suggest(8)));
    }
}
