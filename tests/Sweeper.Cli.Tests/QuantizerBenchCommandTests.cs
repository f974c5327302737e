namespace Sweeper.Cli.Tests;

/// <summary><c>sweeper bench quantizers</c>: each method's step against float, with the interval its median lies in and a verdict per target.</summary>
public sealed class QuantizerBenchCommandTests
{
    /// <summary>
    /// Two rounds are too few for any 95 % interval of a median (the whole line): every target is printed as undecided,
    /// never as met, whatever the two ratios were.
    /// </summary>
    [Fact]
    public async Task BenchQuantizers_TwoRounds_EveryTargetUndecided()
    {
        var dir = Directory.CreateTempSubdirectory("sweeper-bench-quantizers-").FullName;
        try
        {
            var outcome = await SweeperProcess.RunAsync(dir, TimeSpan.FromMinutes(4), "bench", "quantizers", "--rounds", "2");

            Assert.True(outcome.ExitCode == 0, outcome.ToString());
            Assert.Contains("95 % interval", outcome.Stdout);
            var rows = outcome.Stdout.Split('\n').Where(l => l.StartsWith("│ ")).ToList();
            foreach (var (method, target) in new[] { ("legacy_auto_po2", "≤ 1.05"), ("msqe_po2", "≤ 1.05"), ("learnable_po2", "≤ 1.02"), ("lsq", "≤ 1.02") })
            {
                var row = rows.First(l => l.StartsWith($"│ {method} "));
                Assert.Contains("too few rounds", row);
                Assert.Contains($"{target}: undecided", row);
            }
            Assert.DoesNotContain(": met", outcome.Stdout);
            Assert.Contains("the quantizers alone", outcome.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1001")]
    public async Task BenchQuantizers_RoundsOutOfRange_Exit2(string rounds)
    {
        var outcome = await SweeperProcess.RunAsync(Path.GetTempPath(), TimeSpan.FromMinutes(1), "bench", "quantizers", "--rounds", rounds);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains("--rounds must be from 1 to 1000", outcome.Stdout + outcome.Stderr);
        Assert.DoesNotContain("Exception", outcome.Stdout + outcome.Stderr);
    }
}
