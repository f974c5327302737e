using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// SIGTERM and SIGINT to the real sweeper processes (graceful stop, exit 143 or 130; a second signal exits at once),
/// and the run directory's lock (a second run or resume of one directory is refused; kill -9 leaves no stale lock).
/// </summary>
public sealed partial class SignalTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-signals-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>4 synthetic trials of 20 epochs of 0.5 s, 2 at a time: far longer than any test waits.</summary>
    private string Spec() => SyntheticSpec.Write(_dir, "signals", 20, 0.5, [0.01, 0.03, 0.1, 0.3], seed: 3, metric: "test_accuracy");

    [GeneratedRegex(@"run directory (\S+)")]
    private static partial Regex RunDirectoryLine();

    private static async Task<string> RunDirectoryOf(SweeperProcess.Running run) =>
        RunDirectoryLine().Match(await run.WaitForLineAsync(l => l.Contains("run directory "), Startup)).Groups[1].Value;

    private static Task<string> FirstEpoch(SweeperProcess.Running run) => run.WaitForLineAsync(l => l.Contains(" epoch 1/20 "), Startup);

    private static string Pid(SweeperProcess.Running p) => "pid " + p.Id.ToString(CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("TERM", 143)]
    [InlineData("INT", 130)]
    public async Task Run_Signal_StopsTrialsWritesResultsAndExitsWithItsCode(string signal, int exitCode)
    {
        using var run = SweeperProcess.Start(_dir, "run", Spec());
        var runDir = await RunDirectoryOf(run);
        await FirstEpoch(run);

        run.Signal(signal);

        Assert.Equal(exitCode, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"SIG{signal}: stopping the sweep", run.Output);
        Assert.True(File.Exists(Path.Combine(runDir, "summary.md")), run.Output);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json"))))
        {
            var trials = doc.RootElement.GetProperty("trials").EnumerateArray().ToList();
            Assert.NotEmpty(trials);
            Assert.DoesNotContain(trials, t => t.GetProperty("state").GetString() == "completed"); // 20 epochs of 0.5 s: none had the time
            Assert.Contains(trials, t => t.GetProperty("epochs").GetArrayLength() >= 1);
        }
        var report = await SweeperProcess.RunAsync(_dir, Startup, "report", runDir); // the journal reads back
        Assert.True(report.ExitCode == 0, report.ToString());
    }

    [Fact]
    public async Task Run_SecondSigTermDuringShutdown_ExitsAtOnceWith143()
    {
        // The only worker is frozen (SIGSTOP) mid-trial: the coordinator's graceful stop waits for a trial that cannot answer.
        var port = TestPorts.Free().ToString(CultureInfo.InvariantCulture);
        using var run = SweeperProcess.Start(_dir, "run", Spec(), "--no-local-worker", "--port", port);
        var runDir = await RunDirectoryOf(run);
        using var worker = SweeperProcess.Start(_dir, "worker", "--join", "127.0.0.1:" + port, "--slots", "2");
        await FirstEpoch(run);
        worker.Signal("STOP");

        run.Signal("TERM");
        await run.WaitForLineAsync(l => l.Contains("SIGTERM: stopping the sweep"), TimeSpan.FromSeconds(10));
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(run.HasExited, "the graceful stop should still wait for the frozen worker:\n" + run.Output);
        run.Signal("TERM");

        Assert.Equal(143, await run.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("SIGTERM again: exiting at once", run.Output);
        // It did not finish the graceful stop (which ends by writing the results): it left at once.
        Assert.False(File.Exists(Path.Combine(runDir, "results.json")), "the graceful stop ran to its end:\n" + run.Output);
        var report = await SweeperProcess.RunAsync(_dir, Startup, "report", runDir); // the journal is consistent
        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.Contains("t0001", report.Stdout);
    }

    [Fact]
    public async Task Worker_SigTerm_LeavesTheClusterAndExits143()
    {
        var port = TestPorts.Free().ToString(CultureInfo.InvariantCulture);
        using var run = SweeperProcess.Start(_dir, "run", Spec(), "--no-local-worker", "--port", port);
        await RunDirectoryOf(run);
        using var worker = SweeperProcess.Start(_dir, "worker", "--join", "127.0.0.1:" + port, "--slots", "2");
        await FirstEpoch(run);

        worker.Signal("TERM");

        Assert.Equal(143, await worker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("worker stopped", worker.Output);
        run.Signal("TERM"); // no worker left: the coordinator stops at once
        Assert.Equal(143, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Resume_WhileTheDirectoryIsInUse_IsRefusedAndAfterKill9OfTheHolderItRuns()
    {
        using var run = SweeperProcess.Start(_dir, "run", Spec());
        var runDir = await RunDirectoryOf(run);
        await FirstEpoch(run);

        var refused = await SweeperProcess.RunAsync(_dir, Startup, "resume", runDir);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains($"run directory {runDir} is in use", refused.Stderr);
        Assert.Contains(Pid(run), refused.Stderr);
        Assert.Single(refused.Stderr.Trim().Split('\n'));
        var report = await SweeperProcess.RunAsync(_dir, Startup, "report", runDir); // reading needs no lock
        Assert.True(report.ExitCode == 0, report.ToString());

        run.KillHard(); // its lock dies with it
        using var resume = SweeperProcess.Start(_dir, "resume", runDir);
        await resume.WaitForLineAsync(l => l.Contains("resuming sweep"), Startup);
        var second = await SweeperProcess.RunAsync(_dir, Startup, "resume", runDir);
        Assert.True(second.ExitCode == 2, second.ToString());
        Assert.Contains(Pid(resume), second.Stderr);

        resume.Signal("TERM");
        Assert.Equal(143, await resume.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
