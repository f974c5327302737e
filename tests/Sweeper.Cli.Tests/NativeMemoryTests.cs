using System.Diagnostics;
using Sweeper.Cli.Running;

namespace Sweeper.Cli.Tests;

/// <summary>When a trial thread trims the malloc arenas after its trial (<see cref="NativeMemory.ShouldTrim"/>), on made-up timestamps.</summary>
public sealed class NativeMemoryTests
{
    private static readonly long Second = Stopwatch.Frequency;
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(2);

    [Fact]
    public void ShouldTrim_TrialsThatTrained_AlwaysAndRecorded()
    {
        long last = long.MinValue;
        Assert.True(NativeMemory.ShouldTrim(NativeMemory.TrimAlwaysAfter, 10 * Second, ref last));
        Assert.Equal(10 * Second, last);
        Assert.True(NativeMemory.ShouldTrim(TimeSpan.FromMinutes(3), 10 * Second + 1, ref last));
        Assert.Equal(10 * Second + 1, last);
    }

    [Fact]
    public void ShouldTrim_ShortTrials_FirstThenAtMostOncePerInterval()
    {
        long last = long.MinValue;
        Assert.True(NativeMemory.ShouldTrim(Short, 5 * Second, ref last)); // no trim yet
        Assert.False(NativeMemory.ShouldTrim(Short, 5 * Second + Second / 2, ref last));
        Assert.Equal(5 * Second, last);
        Assert.True(NativeMemory.ShouldTrim(Short, 6 * Second, ref last)); // a whole interval later
        Assert.False(NativeMemory.ShouldTrim(Short, 6 * Second + 1, ref last));
        Assert.True(NativeMemory.ShouldTrim(NativeMemory.TrimAlwaysAfter, 6 * Second + 2, ref last)); // a trained trial still trims
        Assert.False(NativeMemory.ShouldTrim(Short, 6 * Second + 3, ref last));
    }

    [Fact]
    public void ShouldTrim_ShortTrialsEndingTogetherOnManyThreads_OneTrims()
    {
        long last = 0;
        long now = 2 * Second;
        int trims = 0;
        Parallel.For(0, 64, _ => { if (NativeMemory.ShouldTrim(Short, now, ref last)) Interlocked.Increment(ref trims); });
        Assert.Equal(1, trims);
        Assert.Equal(now, last);
    }
}
