using Sweeper.Core.Search;
using Sweeper.Core.Search.Tpe;
using Sweeper.Core.Spec;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Search;

public class TpeSearcherTests
{
    private static SearchSpace OneD(ParameterDomain domain) => new(new ParameterDefinition("x", domain));

    /// <summary>Suggest/observe <paramref name="n"/> configurations sequentially; returns them in order.</summary>
    private static List<Suggestion> Optimize(ISearcher searcher, Func<Suggestion, double> objective, int n)
    {
        var suggestions = new List<Suggestion>();
        for (int i = 0; i < n; i++)
        {
            var s = searcher.Suggest(i)!;
            suggestions.Add(s);
            searcher.Observe(i, objective(s));
        }
        return suggestions;
    }

    private static double X(Suggestion s) => Convert.ToDouble(s["x"]);

    [Theory]
    [InlineData(1)]
    [InlineData(99)]
    public void Suggest_SameSeedAndObservations_SameSequence(long seed)
    {
        Func<Suggestion, double> f = s => -Math.Pow(Math.Log10((double)s["trainable.optimizer.lr"]!) + 2, 2);
        var a = Optimize(new TpeSearcher(Spaces.Conditional(), ObjectiveMode.Max, seed), f, 30).Select(Spaces.Describe);
        var b = Optimize(new TpeSearcher(Spaces.Conditional(), ObjectiveMode.Max, seed), f, 30).Select(Spaces.Describe);
        var c = Optimize(new TpeSearcher(Spaces.Conditional(), ObjectiveMode.Max, seed + 1), f, 30).Select(Spaces.Describe);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(4)]
    public void Suggest_StartupTrials_SameAsRandomSearcherThenDiverges(int startup)
    {
        var space = OneD(ParameterDomain.Uniform(-10, 10));
        var tpe = new TpeSearcher(space, ObjectiveMode.Min, seed: 8, options: new TpeOptions { StartupTrials = startup });
        var random = new RandomSearcher(space, ObjectiveMode.Min, seed: 8);
        var tpeRun = Optimize(tpe, s => Math.Abs(X(s) - 3), 20).Select(X).ToList();
        var randomRun = Enumerable.Range(0, 20).Select(i => X(random.Suggest(i)!)).ToList();

        Assert.Equal(randomRun.Take(startup), tpeRun.Take(startup));
        Assert.True(tpeRun.Skip(startup).Zip(randomRun.Skip(startup)).All(p => p.First != p.Second));
    }

    [Theory]
    [InlineData(ObjectiveMode.Max, 1)]
    [InlineData(ObjectiveMode.Min, 2)]
    [InlineData(ObjectiveMode.Max, 3)]
    public void Suggest_QuadraticIn1D_ConcentratesNearTheOptimumAfterStartup(ObjectiveMode mode, long seed)
    {
        var tpe = new TpeSearcher(OneD(ParameterDomain.Uniform(-10, 10)), mode, seed);
        double sign = mode == ObjectiveMode.Max ? -1 : 1;
        var run = Optimize(tpe, s => sign * Math.Pow(X(s) - 3, 2), 60);

        // Uniform draws on [-10, 10] land a median 5 away from 3, 10% of them within ±1.
        var late = run.Skip(30).Select(s => Math.Abs(X(s) - 3)).Order().ToList();
        double median = (late[14] + late[15]) / 2, near = late.Count(d => d < 1) / 30.0;
        Assert.True(median < 2.5, $"suggestions 30..59 are a median {median:F2} from the optimum");
        Assert.True(near >= 0.25, $"only {near:P0} of suggestions 30..59 within ±1 of the optimum");
        Assert.True(run.Take(10).Count(s => Math.Abs(X(s) - 3) < 1) <= 4);
    }

    [Fact]
    public void Suggest_LogDomain_ConcentratesWithinHalfADecadeOfTheOptimum()
    {
        var tpe = new TpeSearcher(OneD(ParameterDomain.LogUniform(1e-5, 1)), ObjectiveMode.Min, seed: 4);
        var run = Optimize(tpe, s => Math.Pow(Math.Log10(X(s)) + 2, 2), 60);
        double near = run.Skip(30).Count(s => Math.Abs(Math.Log10(X(s)) + 2) < 0.5) / 30.0;
        Assert.True(near >= 0.45, $"only {near:P0} within half a decade of 1e-2 (random: 20% on average)");
    }

    [Fact]
    public void Suggest_IntDomain_ConcentratesNearTheOptimumAndStaysOnTheGrid()
    {
        var tpe = new TpeSearcher(OneD(ParameterDomain.IntUniform(0, 40, 2)), ObjectiveMode.Max, seed: 5);
        var run = Optimize(tpe, s => -Math.Abs((long)s["x"]! - 30), 50);
        Assert.All(run, s => Assert.True((long)s["x"]! % 2 == 0 && (long)s["x"]! is >= 0 and <= 40));
        double near = run.Skip(25).Count(s => Math.Abs((long)s["x"]! - 30) <= 4) / 25.0;
        Assert.True(near >= 0.45, $"only {near:P0} within ±4 of 30 (random: 24% on average)");
    }

    [Fact]
    public void Suggest_Categorical_PrefersTheBestChoice()
    {
        var tpe = new TpeSearcher(OneD(ParameterDomain.Values("a", "b", "c", "d", "e")), ObjectiveMode.Max, seed: 6);
        var run = Optimize(tpe, s => (string)s["x"]! == "c" ? 1 : 0, 50);
        double best = run.Skip(20).Count(s => (string)s["x"]! == "c") / 30.0;
        Assert.True(best >= 0.5, $"only {best:P0} of later suggestions are the best choice (random: 20%)");
    }

    [Fact]
    public void Suggest_NonFiniteObjectives_TreatedAsWorstWithoutThrowing()
    {
        // x > 0 diverges (NaN, +inf or -inf); the best finite region is x near -5.
        var tpe = new TpeSearcher(OneD(ParameterDomain.Uniform(-10, 10)), ObjectiveMode.Max, seed: 7);
        var run = Optimize(tpe, s => X(s) switch
        {
            > 6 => double.PositiveInfinity,
            > 3 => double.NegativeInfinity,
            > 0 => double.NaN,
            var x => -Math.Abs(x + 5),
        }, 50);
        double finite = run.Skip(25).Count(s => X(s) <= 0) / 25.0;
        Assert.True(finite >= 0.78, $"only {finite:P0} of later suggestions avoid the non-finite region");
    }

    [Fact]
    public void Suggest_ConditionalSpace_LearnsTheBetterBranchAndOmitsInactiveParameters()
    {
        var tpe = new TpeSearcher(Spaces.Conditional(), ObjectiveMode.Max, seed: 11);
        var run = Optimize(tpe, s => (string)s["trainable.optimizer.name"]! == "adam"
            ? 1 - Math.Abs(Math.Log10((double)s["trainable.optimizer.lr"]!) + 3)
            : 0.2 - Math.Abs((double)s["trainable.optimizer.momentum"]! - 0.9), 50);

        foreach (var s in run)
        {
            bool sgd = (string)s["trainable.optimizer.name"]! == "sgd";
            Assert.Equal(sgd, s["trainable.optimizer.momentum"] is not null);
            Assert.Equal(!sgd, s["trainable.optimizer.beta2"] is not null);
        }
        double adam = run.Skip(25).Count(s => (string)s["trainable.optimizer.name"]! == "adam") / 25.0;
        Assert.True(adam >= 0.7, $"only {adam:P0} of later suggestions use the better branch");
    }

    [Fact]
    public void Suggest_ConditionalParameter_ModelledOnlyFromTrialsWhereActive()
    {
        // SGD is the better branch and wants momentum 0.9; momentum is absent from Adam trials.
        var tpe = new TpeSearcher(Spaces.Conditional(), ObjectiveMode.Max, seed: 12);
        var run = Optimize(tpe, s => (string)s["trainable.optimizer.name"]! == "sgd"
            ? 1 - Math.Abs((double)s["trainable.optimizer.momentum"]! - 0.9)
            : 0, 60);
        var momenta = run.Skip(30).Select(s => s["trainable.optimizer.momentum"]).OfType<double>().ToList();
        Assert.True(momenta.Count >= 20, $"only {momenta.Count} of 30 later suggestions use sgd");
        double near = momenta.Count(m => Math.Abs(m - 0.9) < 0.1) / (double)momenta.Count;
        Assert.True(near >= 0.5, $"only {near:P0} of later momenta within ±0.1 of 0.9 (random: 20%)");
    }

    [Fact]
    public void Suggest_NormalDomain_ConcentratesNearTheOptimumOnTheQGrid()
    {
        var tpe = new TpeSearcher(OneD(ParameterDomain.Normal(0, 2, q: 0.5)), ObjectiveMode.Min, seed: 13);
        var run = Optimize(tpe, s => Math.Abs(X(s) - 1.5), 50);
        Assert.All(run, s => Assert.Equal(Math.Round(X(s) * 2), X(s) * 2));
        double near = run.Skip(25).Count(s => Math.Abs(X(s) - 1.5) <= 0.5) / 25.0;
        Assert.True(near >= 0.5, $"only {near:P0} of later suggestions within ±0.5 of 1.5 (prior: about 27%)");
    }

    [Fact]
    public void Suggest_ObservationsArriveLate_UsesOnlyWhatWasObserved()
    {
        // 15 suggestions in flight before any result: all must be startup (random) suggestions.
        var space = OneD(ParameterDomain.Uniform(0, 1));
        var tpe = new TpeSearcher(space, ObjectiveMode.Max, seed: 3);
        var random = new RandomSearcher(space, ObjectiveMode.Max, seed: 3);
        for (int i = 0; i < 15; i++) Assert.Equal(X(random.Suggest(i)!), X(tpe.Suggest(i)!));
        for (int i = 0; i < 15; i++) tpe.Observe(i, X(tpe.Suggest(i)!));
        Assert.NotEqual(X(random.Suggest(15)!), X(tpe.Suggest(15)!));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(10, 1)]
    [InlineData(11, 2)]
    [InlineData(100, 10)]
    [InlineData(250, 25)]
    [InlineData(1000, 25)]
    public void DefaultGamma_Count_IsCeilTenthCappedAt25(int n, int expected) => Assert.Equal(expected, TpeOptions.DefaultGamma(n));

    [Fact]
    public void DefaultWeights_Over25_RampForOlderObservations()
    {
        Assert.Equal(Enumerable.Repeat(1.0, 24), TpeOptions.DefaultWeights(24));
        var w = TpeOptions.DefaultWeights(30);
        double[] ramp = [1.0 / 30, 1.0 / 30 + (1 - 1.0 / 30) / 4, 1.0 / 30 + 2 * (1 - 1.0 / 30) / 4, 1.0 / 30 + 3 * (1 - 1.0 / 30) / 4, 1.0];
        Assert.Equal(ramp, w.Take(5), (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(Enumerable.Repeat(1.0, 25), w.Skip(5));
    }
}
