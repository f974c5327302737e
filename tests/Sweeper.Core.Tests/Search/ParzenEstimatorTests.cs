using Sweeper.Core.Search;
using Sweeper.Core.Search.Tpe;

namespace Sweeper.Core.Tests.Search;

public class ParzenEstimatorTests
{
    private static readonly TpeOptions Defaults = new();

    // Expected bandwidths worked by hand from Optuna's _calculate_numerical_distributions.
    [Theory]
    [InlineData(new[] { 0.2, 0.5, 0.9 }, new[] { 0.3, 0.3, 0.4 })]   // neighbour gaps, prior mean 0.5 counts as a point
    [InlineData(new[] { 0.5, 0.51 }, new[] { 0.25, 0.25 })]          // magic clip: at least 1 / (1 + 2 + 1)
    [InlineData(new[] { 0.1 }, new[] { 0.4 })]                       // one observation: its gap to the prior mean
    [InlineData(new[] { 0.0, 1.0, 0.0, 1.0 }, new[] { 1.0 / 6, 0.5, 0.5, 1.0 / 6 })] // ties: stable order; outer ones clipped to 1/6
    public void Bandwidths_ContinuousUnitDomain_FollowOptunaRules(double[] observations, double[] expectedSigmas)
    {
        var model = new NumericModel(0, 1, null, 0.5, 1);
        var pe = new NumericParzenEstimator(observations, model, Defaults);
        Assert.Equal([.. observations, 0.5], pe.Mus);
        Assert.Equal([.. expectedSigmas, 1.0], pe.Sigmas, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void Bandwidths_NoObservations_PriorOnly()
    {
        var pe = new NumericParzenEstimator([], new NumericModel(-2, 2, null, 0, 4), Defaults);
        Assert.Equal([0.0], pe.Mus);
        Assert.Equal([4.0], pe.Sigmas);
    }

    [Fact]
    public void LogPdf_Discrete_IsAProbabilityDistributionOverTheGrid()
    {
        // int_uniform(0, 5): step 1, extended bounds [-0.5, 5.5].
        var model = TpeSearcher.ModelOf(ParameterDomain.IntUniform(0, 5))!;
        var pe = new NumericParzenEstimator([1.0, 1.0, 4.0], model, Defaults);
        double total = Enumerable.Range(0, 6).Sum(x => Math.Exp(pe.LogPdf(x)));
        Assert.Equal(1.0, total, 1e-9);
        Assert.True(pe.LogPdf(1) > pe.LogPdf(3));
    }

    [Fact]
    public void LogPdf_Continuous_IntegratesToOneOverTheDomain()
    {
        var model = new NumericModel(-1, 3, null, 1, 4);
        var pe = new NumericParzenEstimator([-0.9, 0.0, 2.5, 2.9], model, Defaults);
        const int steps = 20000;
        double h = 4.0 / steps, integral = 0;
        for (int i = 0; i < steps; i++) integral += Math.Exp(pe.LogPdf(-1 + (i + 0.5) * h)) * h;
        Assert.Equal(1.0, integral, 1e-4);
        Assert.Equal(double.NegativeInfinity, pe.LogPdf(3.5));
    }

    [Fact]
    public void Sample_ManyDraws_StayInTheExtendedDomain()
    {
        var model = TpeSearcher.ModelOf(ParameterDomain.Uniform(0, 1, 0.25))!;
        var pe = new NumericParzenEstimator([0.0, 1.0], model, Defaults);
        var random = new SeededRandom(1);
        for (int i = 0; i < 1000; i++) Assert.InRange(pe.Sample(random), -0.125, 1.125);
    }

    [Fact]
    public void Categorical_WeightedCounts_MatchOptunaMixture()
    {
        // 3 observations (0, 0, 2) of 3 choices, prior weight 1: 4 kernels, each row 1/4 everywhere
        // (+1 at its observation), normalised; equal mixture weights.
        var pe = new CategoricalParzenEstimator([0, 0, 2], 3, Defaults);
        double obsRow = 1.75;
        double[] expected =
        [
            (2 * 1.25 / obsRow + 0.25 / obsRow + 1.0 / 3) / 4,
            (3 * 0.25 / obsRow + 1.0 / 3) / 4,
            (2 * 0.25 / obsRow + 1.25 / obsRow + 1.0 / 3) / 4,
        ];
        Assert.Equal(expected, pe.Probabilities, (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(1.0, pe.Probabilities.Sum(), 1e-12);
    }
}
