namespace Sweeper.Benchmarks.Tests;

public sealed class BenchStatisticsTests
{
    [Fact]
    public void Median_OddAndEvenCounts_MiddleValueOrMeanOfTheTwo()
    {
        Assert.Equal(3.0, BenchStatistics.Median([5.0, 1.0, 3.0]));
        Assert.Equal(2.5, BenchStatistics.Median([4.0, 1.0, 2.0, 3.0]));
        Assert.True(double.IsNaN(BenchStatistics.Median([])));
    }

    [Fact]
    public void Quantile_InterpolatesBetweenOrderStatistics()
    {
        double[] values = [10.0, 40.0, 20.0, 30.0, 50.0]; // sorted 10 20 30 40 50
        Assert.Equal(10.0, BenchStatistics.Quantile(values, 0));
        Assert.Equal(20.0, BenchStatistics.Quantile(values, 0.25));
        Assert.Equal(30.0, BenchStatistics.Quantile(values, 0.5));
        Assert.Equal(45.0, BenchStatistics.Quantile(values, 0.875));
        Assert.Equal(50.0, BenchStatistics.Quantile(values, 1));
        Assert.Equal(BenchStatistics.Median([4.0, 1.0, 2.0, 3.0]), BenchStatistics.Quantile([4.0, 1.0, 2.0, 3.0], 0.5));
        Assert.Equal(7.0, BenchStatistics.Quantile([7.0], 0.25));
        Assert.True(double.IsNaN(BenchStatistics.Quantile([], 0.5)));
        Assert.Equal(double.PositiveInfinity, BenchStatistics.Quantile([1.0, double.PositiveInfinity, double.PositiveInfinity], 0.5));
        Assert.Equal(double.PositiveInfinity, BenchStatistics.Quantile([1.0, double.PositiveInfinity], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => BenchStatistics.Quantile(values, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => BenchStatistics.Quantile(values, double.NaN));
    }

    /// <summary>The order statistics of the textbook tables (n = 6: 1st and 6th, 21: 6th and 16th, 100: 40th and 61st).</summary>
    [Fact]
    public void MedianInterval_OrderStatisticsOfTheBinomialTables()
    {
        var random = new Random(4);
        double[] Shuffled(int n) => Enumerable.Range(1, n).Select(v => (double)v).OrderBy(_ => random.Next()).ToArray();
        Assert.Equal((1.0, 6.0), BenchStatistics.MedianInterval(Shuffled(6)));
        Assert.Equal((6.0, 16.0), BenchStatistics.MedianInterval(Shuffled(21)));
        Assert.Equal((40.0, 61.0), BenchStatistics.MedianInterval(Shuffled(100)));
        Assert.Equal((double.NegativeInfinity, double.PositiveInfinity), BenchStatistics.MedianInterval(Shuffled(5))); // 2^-5 > 2.5 %: no rank will do
        Assert.Equal((3.0, 19.0), BenchStatistics.MedianInterval(Shuffled(21), 0.999));
        var empty = BenchStatistics.MedianInterval([]);
        Assert.True(double.IsNaN(empty.Lower) && double.IsNaN(empty.Upper));
        Assert.Throws<ArgumentOutOfRangeException>(() => BenchStatistics.MedianInterval([1.0], 1));
    }

    /// <summary>Over 4,000 runs of 21 draws from a skewed distribution, the interval covers the true median about 97.3 % of the time (at least the 95 % asked).</summary>
    [Fact]
    public void MedianInterval_CoversTheTrueMedianAsOftenAsItSays()
    {
        var random = new Random(8);
        double median = Math.Log(2); // of the exponential distribution with rate 1
        int covered = 0, runs = 4000;
        for (int run = 0; run < runs; run++)
        {
            var draws = Enumerable.Range(0, 21).Select(_ => -Math.Log(1 - random.NextDouble())).ToArray();
            var (lower, upper) = BenchStatistics.MedianInterval(draws);
            if (lower <= median && median <= upper) covered++;
        }
        Assert.InRange(covered / (double)runs, 0.95, 0.99);
    }

    [Fact]
    public void AtMost_MetOnlyWhenTheWholeIntervalIs()
    {
        Assert.Equal("met", BenchStatistics.AtMost((0.99, 1.02), 1.02));
        Assert.Equal("not met", BenchStatistics.AtMost((1.021, 1.05), 1.02));
        Assert.Equal("undecided", BenchStatistics.AtMost((1.00, 1.03), 1.02));
        Assert.Equal("undecided", BenchStatistics.AtMost((double.NegativeInfinity, double.PositiveInfinity), 1.02));
    }
}
