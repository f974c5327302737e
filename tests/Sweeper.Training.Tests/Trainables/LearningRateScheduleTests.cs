using Sweeper.Training.Trainables;

namespace Sweeper.Training.Tests.Trainables;

public sealed class LearningRateScheduleTests
{
    [Theory]
    [InlineData("cosine", 0, 0.1)]
    [InlineData("cosine", 50, 0.05)]
    [InlineData("cosine", 25, 0.08535533905932738)] // 0.1 × (1 + cos(π/4)) / 2
    [InlineData("cosine", 100, 0.0)]
    [InlineData("cosine", 150, 0.0)]                // past the end: the final rate
    [InlineData("constant", 0, 0.1)]
    [InlineData("constant", 100, 0.1)]
    public void At_Step_FollowsTheSchedule(string kind, long step, double expected)
    {
        var schedule = new LearningRateSchedule(kind, 0.1, totalSteps: 100);

        Assert.Equal(expected, schedule.At(step), 12);
    }

    [Fact]
    public void At_Cosine_DecreasesEveryStep()
    {
        var schedule = new LearningRateSchedule("cosine", 1.0, totalSteps: 10);

        var rates = Enumerable.Range(0, 11).Select(i => schedule.At(i)).ToList();

        Assert.All(rates.Zip(rates.Skip(1)), p => Assert.True(p.Second < p.First));
    }

    [Fact]
    public void Constructor_UnknownKind_ThrowsListingValidNames()
    {
        var e = Assert.Throws<ArgumentException>(() => new LearningRateSchedule("step", 0.1, 10));

        Assert.Contains("step", e.Message);
        Assert.Contains("cosine", e.Message);
        Assert.Contains("constant", e.Message);
    }

    [Theory]
    [InlineData(-0.1, 10)]
    [InlineData(double.NaN, 10)]
    [InlineData(0.1, 0)]
    public void Constructor_BadRateOrSteps_ThrowsArgumentOutOfRange(double lr, long steps)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRateSchedule("cosine", lr, steps));
    }
}
