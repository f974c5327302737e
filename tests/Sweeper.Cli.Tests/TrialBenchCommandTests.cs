namespace Sweeper.Cli.Tests;

/// <summary><c>sweeper bench trial</c>: the first trial of a spec as a whole process, and the PyTorch side when there is none.</summary>
public sealed class TrialBenchCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-bench-trial-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task BenchTrial_ComparePyTorchWithoutAnInterpreter_SaysSoAndPrintsOurFigures()
    {
        var spec = SyntheticSpec.Write(_dir, "bench", epochs: 2, epochSeconds: 0.05, lrs: [0.01, 0.03]);
        var python = Path.Combine(_dir, "no-such-python", "python3");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(3), "bench", "trial", spec, "--compare-pytorch", "--python", python);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Contains($"PyTorch not available ({python}: cannot be started", outcome.Stdout);
        Assert.Contains("Sweeper (whole process)", outcome.Stdout);
        Assert.Contains("bench t0001", outcome.Stdout); // the first trial only
        Assert.DoesNotContain("t0002", outcome.Stdout);
        Assert.DoesNotContain("Exception", outcome.Stdout + outcome.Stderr);
        Assert.Empty(Directory.GetDirectories(_dir, "runs")); // nothing left in the spec's output folder
    }

    [Fact]
    public async Task BenchTrial_TwoRounds_EachAFreshProcessOfOurs_OneRowPerRound()
    {
        var spec = SyntheticSpec.Write(_dir, "bench", epochs: 2, epochSeconds: 0.05, lrs: [0.01]);

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(3), "bench", "trial", spec, "--rounds", "2");

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Contains("round 1 of 2", outcome.Stdout);
        Assert.Contains("round 2 of 2", outcome.Stdout);
        var rows = outcome.Stdout.Split('\n').Where(l => l.Contains("Sweeper (whole process)")).ToList();
        Assert.Equal(2, rows.Count);
        Assert.StartsWith("│ 1 ", rows[0]);
        Assert.StartsWith("│ 2 ", rows[1]);
        Assert.Contains("outside epochs s", outcome.Stdout);
        Assert.DoesNotContain("{", outcome.Stdout); // the rounds' JSON stays between the processes
        Assert.Empty(Directory.GetDirectories(_dir, "runs"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("51")]
    public async Task BenchTrial_RoundsOutOfRange_Exit2(string rounds)
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "bench", "trial", Path.Combine(_dir, "missing.yaml"), "--rounds", rounds);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains("--rounds must be from 1 to 50", outcome.Stdout + outcome.Stderr);
    }

    [Fact]
    public async Task BenchTrial_MissingSpec_OneLineErrorExit2()
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "bench", "trial", Path.Combine(_dir, "missing.yaml"));

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.DoesNotContain("   at ", outcome.Stdout + outcome.Stderr);
    }
}
