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
}
