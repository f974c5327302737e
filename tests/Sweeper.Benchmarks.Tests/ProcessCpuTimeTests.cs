using System.Diagnostics;

namespace Sweeper.Benchmarks.Tests;

public sealed class ProcessCpuTimeTests
{
    /// <summary>
    /// getrusage's figure is the same account as /proc/self/stat's (both total the process's CPU time since it started),
    /// read through the struct layout this declares: the two agree to within /proc's clock tick and the time between the
    /// two reads, and the figure never goes back.
    /// </summary>
    [Fact]
    public void AgreesWithTheProcessAccount_AndNeverGoesBack()
    {
        // Use some CPU first, so that both figures are well above their resolutions.
        double sink = 0;
        for (int i = 0; i < 20_000_000; i++) sink += Math.Sqrt(i);
        Assert.True(sink > 0);

        using var process = Process.GetCurrentProcess();
        var before = ProcessCpuTime.Now();
        process.Refresh();
        var coarse = process.TotalProcessorTime;
        var after = ProcessCpuTime.Now();

        Assert.True(after >= before, $"{after} < {before}");
        Assert.True(before > TimeSpan.Zero);
        // /proc counts whole 10 ms ticks and samples them; the two reads are moments apart.
        Assert.InRange((coarse - after).TotalMilliseconds, -60, 60);
    }
}
