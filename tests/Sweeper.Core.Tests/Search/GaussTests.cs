using Sweeper.Core.Search;
using Sweeper.Core.Search.Tpe;

namespace Sweeper.Core.Tests.Search;

public class GaussTests
{
    // Reference values from CPython's math.erf / math.erfc.
    [Theory]
    [InlineData(0.1, 0.1124629160182849, 0.8875370839817152)]
    [InlineData(0.5, 0.5204998778130465, 0.4795001221869535)]
    [InlineData(1.0, 0.8427007929497149, 0.15729920705028513)]
    [InlineData(1.9, 0.9927904292352575, 0.0072095707647425325)]
    [InlineData(2.0, 0.9953222650189527, 0.004677734981047265)]
    [InlineData(2.5, 0.999593047982555, 0.0004069520174449589)]
    [InlineData(4.0, 0.9999999845827421, 1.541725790028002e-08)]
    [InlineData(6.0, 1.0, 2.1519736712498916e-17)]
    public void ErfErfc_KnownArguments_MatchReferenceToRelative1e13(double x, double erf, double erfc)
    {
        Assert.Equal(erf, Gauss.Erf(x), erf * 1e-13);
        Assert.Equal(-erf, Gauss.Erf(-x), erf * 1e-13);
        Assert.Equal(erfc, Gauss.Erfc(x), erfc * 1e-13);
        Assert.Equal(2 - erfc, Gauss.Erfc(-x), 1e-15);
    }

    [Theory]
    [InlineData(-1.0, 0.15865525393145707)]
    [InlineData(-3.0, 0.0013498980316300957)]
    [InlineData(-8.0, 6.220960574271819e-16)]
    [InlineData(-20.0, 2.7536241186063314e-89)]
    [InlineData(0.5, 0.6914624612740131)]
    [InlineData(3.0, 0.9986501019683699)]
    public void Cdf_KnownArguments_MatchesReference(double z, double expected) =>
        Assert.Equal(expected, Gauss.Cdf(z), expected * 1e-12);

    [Theory]
    [InlineData(-30.0, -454.3212439563432)]
    [InlineData(-40.0, -804.6084420137538)]
    public void LogCdf_FarTail_StaysFinite(double z, double expected) =>
        Assert.Equal(expected, Gauss.LogCdf(z), 1e-9);

    [Theory]
    [InlineData(-1.0, 1.0)]
    [InlineData(-40.0, -39.0)]
    [InlineData(39.0, 40.0)]
    [InlineData(0.0, 1e-6)]
    [InlineData(-3.0, double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity, double.PositiveInfinity)]
    public void LogMass_Intervals_MatchCdfDifferenceOrTailAsymptotics(double a, double b)
    {
        double actual = Gauss.LogMass(a, b);
        double expected = a < -30
            ? Gauss.LogCdf(b) + Gauss.Log1p(-Math.Exp(Gauss.LogCdf(a) - Gauss.LogCdf(b)))
            : b > 30 ? Gauss.LogCdf(-a) + Gauss.Log1p(-Math.Exp(Gauss.LogCdf(-b) - Gauss.LogCdf(-a)))
            : Math.Log(Gauss.Cdf(b) - Gauss.Cdf(a));
        Assert.True(double.IsFinite(actual));
        Assert.Equal(expected, actual, Math.Abs(expected) * 1e-9 + 1e-12);
    }

    [Theory]
    [InlineData(1e-300)]
    [InlineData(1e-10)]
    [InlineData(0.02)]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.999999)]
    public void InverseCdf_Probability_RoundTripsThroughCdf(double p) =>
        Assert.Equal(p, Gauss.Cdf(Gauss.InverseCdf(p)), p * 1e-12);

    [Theory]
    [InlineData(-1.0, 1.0)]
    [InlineData(2.0, 3.0)]
    [InlineData(-9.0, -8.0)]
    [InlineData(30.0, double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity, double.PositiveInfinity)]
    public void SampleTruncated_ManyDraws_StayInBoundsWithTheRightMean(double a, double b)
    {
        var random = new SeededRandom(7);
        double sum = 0;
        const int n = 4000;
        for (int i = 0; i < n; i++)
        {
            double z = Gauss.SampleTruncated(a, b, random);
            Assert.InRange(z, a, b);
            sum += z;
        }
        // Mean of a truncated standard normal: (φ(a) − φ(b)) / (Φ(b) − Φ(a)).
        double expected = (Math.Exp(Gauss.LogPdf(a)) - Math.Exp(Gauss.LogPdf(b))) / Math.Exp(Gauss.LogMass(a, b));
        Assert.Equal(expected, sum / n, 0.05);
    }
}
