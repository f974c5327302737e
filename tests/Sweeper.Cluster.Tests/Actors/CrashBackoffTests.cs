using Sweeper.Cluster.Actors;

namespace Sweeper.Cluster.Tests.Actors;

public sealed class CrashBackoffTests
{
    [Theory]
    [InlineData(0, 0.0, 1.0)]   // the first restart: the first backoff
    [InlineData(1, 0.0, 2.0)]   // doubled per restart
    [InlineData(2, 0.0, 4.0)]
    [InlineData(3, 0.0, 8.0)]   // at most 8× the first
    [InlineData(4, 0.0, 8.0)]
    [InlineData(40, 0.0, 8.0)]  // no overflow far out
    [InlineData(0, 0.5, 1.1)]   // stretched by up to 20 % at random
    [InlineData(3, 0.999, 9.5984)]
    public void Delay_RestartAndRandom_DoublesUpTo8TimesStretchedByUpTo20Percent(int restart, double random, double seconds)
    {
        Assert.Equal(seconds, CrashBackoff.Delay(restart, TimeSpan.FromSeconds(1), random).TotalSeconds, 6);
    }

    [Fact]
    public void Delay_NegativeRestart_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CrashBackoff.Delay(-1, TimeSpan.FromSeconds(1), 0));
}
