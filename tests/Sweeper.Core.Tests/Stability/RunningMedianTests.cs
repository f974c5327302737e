using System.Globalization;
using Sweeper.Core.Stability;

namespace Sweeper.Core.Tests.Stability;

public class RunningMedianTests
{
    [Theory]
    [InlineData(3, "", double.NaN)]
    [InlineData(3, "5", 5.0)]
    [InlineData(3, "5 1", 3.0)]
    [InlineData(3, "5 1 3", 3.0)]
    [InlineData(3, "5 1 3 9", 3.0)]          // window {1, 3, 9}
    [InlineData(3, "5 1 3 9 10", 9.0)]       // window {3, 9, 10}
    [InlineData(4, "2 2 2 8 8 8", 8.0)]      // window {2, 8, 8, 8}: mean of the middle two
    [InlineData(4, "2 2 8 8", 5.0)]
    [InlineData(2, "-1 -3 0", -1.5)]         // window {-3, 0}
    [InlineData(3, "4 4 4 4 4 1", 4.0)]      // equal values leave one at a time
    public void Median_AfterValues_OfTheLastCapacityValues(int capacity, string values, double expected)
    {
        var median = new RunningMedian(capacity);
        foreach (var v in values.Split(' ', StringSplitOptions.RemoveEmptyEntries)) median.Add(double.Parse(v, CultureInfo.InvariantCulture));
        Assert.Equal(expected, median.Median);
    }

    [Fact]
    public void Median_LongRandomStream_MatchesSortingTheWindow()
    {
        var random = new Random(7);
        var median = new RunningMedian(9);
        var all = new List<double>();
        for (int i = 0; i < 500; i++)
        {
            double x = Math.Round(random.NextDouble() * 10, 1); // many ties
            median.Add(x);
            all.Add(x);
            var window = all.TakeLast(9).Order().ToList();
            double expected = window.Count % 2 == 1 ? window[window.Count / 2] : 0.5 * (window[window.Count / 2 - 1] + window[window.Count / 2]);
            Assert.Equal(expected, median.Median);
        }
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Add_NonFinite_Throws(double x) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new RunningMedian(3).Add(x));
}
