using Sweeper.Core.Search;

namespace Sweeper.Core.Tests.Search;

public class Xoshiro256Tests
{
    // Reference outputs from an independent Python implementation of SplitMix64 seeding and xoshiro256** (Blackman, Vigna).
    [Theory]
    [InlineData(0L, 0x99ec5f36cb75f2b4UL, 0xbf6e1f784956452aUL, 0x1a5f849d4933e6e0UL, 0x6aa594f1262d2d2cUL)]
    [InlineData(42L, 0x15780b2e0c2ec716UL, 0x6104d9866d113a7eUL, 0xae17533239e499a1UL, 0xecb8ad4703b360a1UL)]
    [InlineData(-7L, 0xf305399b3b63f2c2UL, 0xd693dd0a37ae5bdcUL, 0x736e8338a3f226b9UL, 0x6a0da5410c1bdfa1UL)]
    public void FirstOutputs_MatchReference_ForValueAndClass(long seed, ulong a, ulong b, ulong c, ulong d)
    {
        var generator = new Xoshiro256(seed);
        var random = new SeededRandom(seed);
        foreach (var expected in new[] { a, b, c, d })
        {
            Assert.Equal(expected, generator.NextUInt64());
            Assert.Equal(expected, random.NextUInt64());
        }
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(123456789L)]
    [InlineData(long.MinValue)]
    public void Draws_SameAsSeededRandom(long seed)
    {
        var generator = new Xoshiro256(seed);
        var random = new SeededRandom(seed);
        for (int i = 0; i < 1000; i++)
        {
            switch (i % 3)
            {
                case 0: Assert.Equal(random.NextDouble(), generator.NextDouble()); break;
                case 1: Assert.Equal(random.NextOpenDouble(), generator.NextOpenDouble()); break;
                default: Assert.Equal(random.NextGaussian(), generator.NextGaussian()); break;
            }
        }
    }

    [Fact]
    public void Copies_ContinueIndependently()
    {
        var original = new Xoshiro256(5);
        original.NextUInt64();
        var copy = original;
        Assert.Equal(original.NextUInt64(), copy.NextUInt64());
        Assert.Equal(original.NextGaussian(), copy.NextGaussian());
    }

    [Fact]
    public void Gaussian_MomentsOfManyDraws()
    {
        var generator = new Xoshiro256(2024);
        const int n = 200_000;
        double sum = 0, squares = 0;
        for (int i = 0; i < n; i++)
        {
            double g = generator.NextGaussian();
            sum += g;
            squares += g * g;
        }

        double mean = sum / n, variance = squares / n - mean * mean;
        Assert.InRange(mean, -0.01, 0.01); // standard error 0.0022
        Assert.InRange(variance, 0.98, 1.02); // standard error 0.0032
    }
}
