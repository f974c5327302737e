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

    /// <summary>
    /// <c>--methods</c> times the named methods only, float always beside them as their reference, in the step table and
    /// in the quantizers-alone table; a repeated name is timed once.
    /// </summary>
    [Fact]
    public async Task BenchQuantizers_Methods_TimesOnlyThoseAndFloat()
    {
        var outcome = await SweeperProcess.RunAsync(Path.GetTempPath(), TimeSpan.FromMinutes(4), "bench", "quantizers", "--rounds", "2", "--methods", "lsq, lsq");

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var rows = outcome.Stdout.Split('\n').Where(l => l.StartsWith("│ ")).Select(l => l.Split('│')[1].Trim()).Where(m => m is not ("method" or "")).ToList();
        Assert.Equal(["none", "lsq", "lsq"], rows); // the step table's float and lsq rows, then lsq alone
        Assert.Contains("≤ 1.02: undecided", outcome.Stdout);
    }

    [Theory]
    [InlineData("lsq,bogus", "--methods: 'bogus' is not a quantizer method (expected a comma-separated list of legacy_auto_po2, msqe_po2, learnable_po2, lsq)")]
    [InlineData("none", "--methods 'none' names no quantizer method")]
    [InlineData("lsq,,msqe_po2", "--methods 'lsq,,msqe_po2': an empty name")]
    public async Task BenchQuantizers_BadMethods_Exit2(string methods, string message)
    {
        var outcome = await SweeperProcess.RunAsync(Path.GetTempPath(), TimeSpan.FromMinutes(1), "bench", "quantizers", "--methods", methods);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains(message, outcome.Stdout + outcome.Stderr);
        Assert.DoesNotContain("Exception", outcome.Stdout + outcome.Stderr);
        Assert.DoesNotContain("median ms/step", outcome.Stdout);
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
