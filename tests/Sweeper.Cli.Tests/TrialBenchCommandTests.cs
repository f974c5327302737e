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

    /// <summary>
    /// The PyTorch side is started with the malloc settings the program runs with (a stand-in interpreter records its
    /// environment and answers with a trial's figures): PyTorch alone with glibc's adaptive thresholds is not the anchor.
    /// </summary>
    [Fact]
    public async Task BenchTrial_ComparePyTorch_PyTorchGetsOurMallocSettings()
    {
        var spec = Path.Combine(_dir, "tiny.yaml");
        File.WriteAllText(spec, """
            name: tiny
            seed: 3
            objective: {metric: test_accuracy, mode: max}
            trainable:
              model: mobilenet_v1
              width: 0.25
              dataset: {name: fashion_mnist, path: /usr/share/datasets/fashion-mnist, train_subset: 256, test_subset: 100}
              epochs: 1
              batch_size: 64
              optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
              lr_schedule: cosine
            parameters:
              trainable.optimizer.lr: {values: [0.05]}
            output: {dir: runs}
            """);
        var environment = Path.Combine(_dir, "python-environment.txt");
        var python = Path.Combine(_dir, "python3");
        File.WriteAllText(python, "#!/bin/sh\n" +
            "[ \"$1\" = -c ] && exit 0\n" +
            $"env > '{environment}'\n" +
            "echo '{\"torch\": \"0.0-fake\", \"threads\": 1, \"parameters\": 215498, \"load_seconds\": 0.1, \"epochs\": [{\"seconds\": 1.0, \"train_seconds\": 0.9, \"val_accuracy\": 0.1, \"test_accuracy\": 0.1}], \"seconds\": 1.5, \"peak_rss_mb\": 100.0}'\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(python, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(3), "bench", "trial", spec, "--compare-pytorch", "--python", python);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Contains("PyTorch runs with our malloc settings (MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824)", outcome.Stdout);
        var lines = File.ReadAllLines(environment);
        Assert.Contains("MALLOC_ARENA_MAX=2", lines);
        Assert.Contains("MALLOC_MMAP_THRESHOLD_=33554432", lines);
        Assert.Contains("MALLOC_TRIM_THRESHOLD_=1073741824", lines);
        Assert.Contains("PyTorch 0.0-fake", outcome.Stdout);
    }

    [Fact]
    public async Task BenchTrial_MissingSpec_OneLineErrorExit2()
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "bench", "trial", Path.Combine(_dir, "missing.yaml"));

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.DoesNotContain("   at ", outcome.Stdout + outcome.Stderr);
    }
}
