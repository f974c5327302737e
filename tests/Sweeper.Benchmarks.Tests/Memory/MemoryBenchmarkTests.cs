using Sweeper.Benchmarks.Memory;
using Sweeper.Cluster.Tests;
using Xunit.Abstractions;

namespace Sweeper.Benchmarks.Tests.Memory;

/// <summary>The memory benchmark's path and bookkeeping; its figures are printed, never asserted on.</summary>
public sealed class MemoryBenchmarkTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, new[] { 1 })]
    [InlineData(20, new[] { 1, 20 })]
    [InlineData(60, new[] { 1, 20, 50, 60 })]
    [InlineData(200, new[] { 1, 20, 50, 100, 200 })]
    [InlineData(300, new[] { 1, 20, 50, 100, 200, 300 })]
    public void SampleAfter_TrialCount_StagesUpToAndIncludingTheLast(int trials, int[] expected) =>
        Assert.Equal(expected, MemoryBenchmark.SampleAfter(trials));

    [Fact]
    public async Task RunAsync_FakeTrials_SamplesAtStartAndAfterEachStage()
    {
        var factory = new FakeTrainableFactory { EpochTime = TimeSpan.Zero };

        var figures = await MemoryBenchmark.RunAsync(25, MemoryBenchmark.DefaultDatasetPath, factory);

        Assert.Equal(25, factory.Created);
        Assert.Equal(new[] { 0, 1, 20, 25 }, figures.Samples.Select(s => s.Trials));
        Assert.All(figures.Samples, s => Assert.True(s.RssBytes > 0 && s.PeakRssBytes >= s.RssBytes && s.AnonRssBytes > 0 && s.AnonRssBytes <= s.RssBytes, $"{s}"));
        Assert.True(figures.PeakRssBytes >= figures.Samples.Max(s => s.RssBytes));
        Assert.Equal(figures.Samples[^1].RssBytes - figures.Samples[2].RssBytes, figures.GrowthBytes);
        Assert.Equal(figures.Samples[^1].AnonRssBytes - figures.Samples[2].AnonRssBytes, figures.AnonGrowthBytes);
        foreach (var s in figures.Samples) output.WriteLine($"{s.Label}: RSS {MemorySample.Megabytes(s.RssBytes):F1} MB");
    }

    [Fact]
    public void GrowthBytes_NoSampleAfterTrial20_Null()
    {
        var figures = new MemoryFigures(5, [new("start", 0, 100, 100, 1, 50), new("after trial 1", 1, 200, 200, 1, 80), new("after trial 5", 5, 300, 300, 1, 90)], 300);

        Assert.Null(figures.GrowthBytes);
        Assert.Null(figures.AnonGrowthBytes);
    }

    [Theory]
    [InlineData("VmRSS:\t  123456 kB", 123456L * 1024)]
    [InlineData("VmHWM:        1 kB", 1024L)]
    public void ParseKilobytes_StatusLine_Bytes(string line, long bytes) => Assert.Equal(bytes, ProcessMemory.ParseKilobytes(line));

    [Theory]
    [InlineData("VmRSS: 12 MB")]
    [InlineData("VmRSS: x kB")]
    [InlineData("VmRSS:")]
    public void ParseKilobytes_Malformed_ThrowsInvalidData(string line) => Assert.Throws<InvalidDataException>(() => ProcessMemory.ParseKilobytes(line));

    [Fact]
    public void Read_ThisProcess_RssAtMostPeak()
    {
        var (rss, peak, anon) = ProcessMemory.Read();

        Assert.True(rss > 0);
        Assert.True(peak >= rss);
        Assert.InRange(anon, 1, rss);
    }
}
