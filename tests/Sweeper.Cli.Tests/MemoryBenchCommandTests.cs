namespace Sweeper.Cli.Tests;

/// <summary><c>sweeper bench memory</c> as a real process: it prints its figures (never asserted on) or a one-line error.</summary>
public sealed class MemoryBenchCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task BenchMemory_TwoRealTrials_PrintsEachStageGrowthAndTargets()
    {
        var outcome = await SweeperProcess.RunAsync(Path.GetTempPath(), Timeout, "bench", "memory", "--trials", "2");

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Contains("after trial 1", outcome.Stdout);
        Assert.Contains("after trial 2", outcome.Stdout);
        Assert.Contains("RSS after 2 trials:", outcome.Stdout);
        Assert.Contains("(target ≤ 500 MB)", outcome.Stdout);
        Assert.Contains("growth: needs more than 20 trials", outcome.Stdout);
        Assert.Contains("managed heap", outcome.Stdout);
    }

    [Fact]
    public async Task BenchMemory_MissingDataset_OneLineErrorExit2()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-fashion-mnist-" + Guid.NewGuid().ToString("N"));

        var outcome = await SweeperProcess.RunAsync(Path.GetTempPath(), Timeout, "bench", "memory", "--trials", "3", "--dataset", missing);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains(missing, outcome.Stderr);
        Assert.Single(outcome.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task BenchMemory_ZeroTrials_Exit2()
    {
        var outcome = await SweeperProcess.RunAsync(Path.GetTempPath(), Timeout, "bench", "memory", "--trials", "0");

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains("--trials must be at least 1", outcome.Stderr);
    }
}
