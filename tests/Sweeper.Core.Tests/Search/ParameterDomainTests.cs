using Sweeper.Core.Search;

namespace Sweeper.Core.Tests.Search;

public class ParameterDomainTests
{
    private const int Draws = 2000;

    [Theory]
    [InlineData(1e-5, 1.0)]
    [InlineData(1e-3, 1e-2)]
    [InlineData(0.5, 0.5)]
    public void LogUniformSample_ManyDraws_StayWithinBounds(double low, double high)
    {
        var domain = ParameterDomain.LogUniform(low, high);
        var random = new SeededRandom(1);
        for (int i = 0; i < Draws; i++) Assert.InRange((double)domain.Sample(random), low, high);
    }

    [Fact]
    public void LogUniformSample_ManyDraws_SpreadEvenlyOverDecades()
    {
        var domain = ParameterDomain.LogUniform(1e-4, 1);
        var random = new SeededRandom(2);
        var perDecade = new int[4];
        for (int i = 0; i < Draws * 2; i++)
            perDecade[Math.Min(3, (int)Math.Floor(Math.Log10((double)domain.Sample(random)) + 4))]++;
        // Each decade expects 1000 of 4000; uniform-in-value sampling would put ~3600 in the last one.
        Assert.All(perDecade, c => Assert.InRange(c, 850, 1150));
    }

    [Theory]
    [InlineData(0.0, 1.0, 0.25, new[] { 0.0, 0.25, 0.5, 0.75, 1.0 })]
    [InlineData(0.1, 1.0, 0.1, new[] { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 })]
    [InlineData(0.0, 1.0, 0.3, new[] { 0.0, 0.3, 0.6, 0.9 })]
    [InlineData(-1.0, 1.0, 5.0, new[] { -1.0 })]
    public void UniformWithQ_Grid_IsLowPlusMultiplesOfQUpToHigh(double low, double high, double q, double[] expected)
    {
        var domain = ParameterDomain.Uniform(low, high, q);
        Assert.True(domain.IsFinite);
        Assert.Equal(expected, domain.GridValues.Cast<double>());
    }

    [Theory]
    [InlineData(0.0, 1.0, 0.3)]
    [InlineData(0.1, 1.0, 0.1)]
    [InlineData(2.0, 7.0, 2.5)]
    public void UniformWithQSample_ManyDraws_AreGridValuesWithinBounds(double low, double high, double q)
    {
        var domain = ParameterDomain.Uniform(low, high, q);
        var random = new SeededRandom(3);
        var grid = domain.GridValues.Cast<double>().ToHashSet();
        var seen = new HashSet<double>();
        for (int i = 0; i < Draws; i++)
        {
            double x = (double)domain.Sample(random);
            Assert.InRange(x, low, high);
            Assert.Contains(x, grid);
            seen.Add(x);
        }
        Assert.Equal(grid.Count, seen.Count);
    }

    [Theory]
    [InlineData(1e-3, 1.0, 1e-3)]
    [InlineData(1.0, 100.0, 5.0)]
    public void LogUniformWithQSample_ManyDraws_RoundToTheGridWithinBounds(double low, double high, double q)
    {
        var domain = ParameterDomain.LogUniform(low, high, q);
        var random = new SeededRandom(4);
        for (int i = 0; i < Draws; i++)
        {
            double x = (double)domain.Sample(random);
            Assert.InRange(x, low, high);
            double k = (x - low) / q;
            Assert.Equal(Math.Round(k), k, 1e-9);
        }
    }

    [Theory]
    [InlineData(1, 6, null, new long[] { 1, 2, 3, 4, 5, 6 })]
    [InlineData(0, 10, 4L, new long[] { 0, 4, 8 })]
    [InlineData(-2, 2, 2L, new long[] { -2, 0, 2 })]
    [InlineData(5, 5, null, new long[] { 5 })]
    public void IntUniformSample_ManyDraws_CoverBothBoundsInclusive(long low, long high, long? q, long[] expected)
    {
        var domain = ParameterDomain.IntUniform(low, high, q);
        var random = new SeededRandom(5);
        var seen = new SortedSet<long>();
        for (int i = 0; i < Draws; i++) seen.Add((long)domain.Sample(random));
        Assert.Equal(expected, seen);
        Assert.Equal(expected, domain.GridValues.Cast<long>());
    }

    [Theory]
    [InlineData(0.0, 1.0, null)]
    [InlineData(10.0, 0.5, 0.25)]
    public void NormalSample_ManyDraws_HaveTheGivenMeanAndSpread(double mu, double sigma, double? q)
    {
        var domain = ParameterDomain.Normal(mu, sigma, q);
        var random = new SeededRandom(6);
        var xs = Enumerable.Range(0, 4 * Draws).Select(_ => (double)domain.Sample(random)).ToArray();
        double mean = xs.Average();
        double sd = Math.Sqrt(xs.Select(x => (x - mean) * (x - mean)).Average());
        Assert.Equal(mu, mean, 0.05 * sigma);
        Assert.Equal(sigma, sd, 0.1 * sigma);
        if (q is { } step) Assert.All(xs, x => Assert.Equal(Math.Round(x / step), x / step, 1e-9));
        Assert.False(domain.IsFinite);
    }

    [Fact]
    public void ValuesSample_ManyDraws_ReturnEachValueAboutEqually()
    {
        var domain = ParameterDomain.Values("sgd", "adam", 3, 0.5, true);
        var random = new SeededRandom(7);
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < 5000; i++)
        {
            string key = ParameterValues.Format(domain.Sample(random));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        Assert.Equal(new[] { "0.5", "3", "adam", "sgd", "true" }, counts.Keys.Order());
        Assert.All(counts.Values, c => Assert.InRange(c, 850, 1150));
        Assert.IsType<long>(domain.GridValues[2]);
    }

    public static TheoryData<Func<ParameterDomain>, string> InvalidDomains => new()
    {
        { () => ParameterDomain.Uniform(2, 1), "low (2) must not exceed high (1)" },
        { () => ParameterDomain.Uniform(0, 1, 0), "q must be a positive number" },
        { () => ParameterDomain.Uniform(0, double.PositiveInfinity), "high must be a finite number" },
        { () => ParameterDomain.LogUniform(0, 1), "low must be positive" },
        { () => ParameterDomain.LogUniform(-1, 1), "low must be positive" },
        { () => ParameterDomain.IntUniform(3, 2), "low (3) must not exceed high (2)" },
        { () => ParameterDomain.IntUniform(0, 2, -1), "q must be a positive integer" },
        { () => ParameterDomain.Normal(0, 0), "sigma must be positive" },
        { () => ParameterDomain.Values(), "must not be empty" },
        { () => ParameterDomain.Values(1, 1.0), "listed twice" },
    };

    [Theory]
    [MemberData(nameof(InvalidDomains))]
    public void Constructor_InvalidArguments_ThrowsWithSpecMessage(Func<ParameterDomain> create, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => create());
        Assert.Contains(message, ex.Message);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void IsFinite_ContinuousVersusQuantised_OnlyQuantisedIsGridable(bool quantised, bool expected)
    {
        double? q = quantised ? 0.1 : null;
        Assert.Equal(expected, ParameterDomain.Uniform(0, 1, q).IsFinite);
        Assert.Equal(expected, ParameterDomain.LogUniform(0.1, 1, q).IsFinite);
        if (!expected) Assert.Throws<InvalidOperationException>(() => ParameterDomain.Uniform(0, 1, q).GridValues);
    }

    [Fact]
    public void SeededRandom_SameSeed_SameSequence()
    {
        var a = new SeededRandom(42);
        var b = new SeededRandom(42);
        var c = new SeededRandom(43);
        var xa = Enumerable.Range(0, 8).Select(_ => a.NextInt64()).ToArray();
        Assert.Equal(xa, Enumerable.Range(0, 8).Select(_ => b.NextInt64()));
        Assert.NotEqual(xa, Enumerable.Range(0, 8).Select(_ => c.NextInt64()));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(7, 3)]
    [InlineData(int.MaxValue, -5)]
    public void SeededRandomNext_Bounds_AreRespected(int max, int min)
    {
        var random = new SeededRandom(9);
        for (int i = 0; i < 500; i++)
        {
            Assert.InRange(random.Next(min, max), min, max - 1);
            Assert.InRange(random.NextDouble(), 0.0, 1.0 - 1e-17);
        }
    }
}
