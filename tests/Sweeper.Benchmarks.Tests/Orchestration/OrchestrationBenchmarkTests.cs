using Sweeper.Benchmarks.Orchestration;
using Sweeper.Cluster.Tests;
using Xunit.Abstractions;

namespace Sweeper.Benchmarks.Tests.Orchestration;

/// <summary>The benchmark's path works end to end; its figures are printed, never asserted on (timing lives in the bench command).</summary>
public sealed class OrchestrationBenchmarkTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(300, 1, true)]
    [InlineData(3000, 1, true)]
    [InlineData(20, 50, true)]
    [InlineData(300, 1, false)]
    public async Task RunAsync_ZeroLengthTrials_EveryTrialAndResultCounted(int trials, int epochs, bool journal)
    {
        var factory = new FakeTrainableFactory { EpochTime = TimeSpan.Zero };

        var figures = await OrchestrationBenchmark.RunAsync(trials, epochs, 8, journal, factory, Path.GetTempPath());

        Assert.Equal(trials, factory.Created);
        Assert.Equal(trials * epochs, figures.Results);
        output.WriteLine($"{trials} trials x {epochs} epochs, journal {journal}: {figures.Elapsed.TotalMilliseconds:F0} ms, {figures.TrialsPerSecond:F0} trials/s, {figures.ResultsPerSecond:F0} results/s");
    }
}
