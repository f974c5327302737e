using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// <c>sweeper stop</c> against a real <c>sweeper run</c> in another process (graceful and <c>--now</c>), then
/// <c>sweeper resume</c> continuing the interrupted trials; a run directory nothing runs; a stale request; Ctrl+C then resume.
/// </summary>
public sealed partial class StopCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Finish = TimeSpan.FromSeconds(120);
    private const int Epochs = 8;
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-stop-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// 3 synthetic trials of 8 epochs of 0.8 s, 2 at a time, checkpoints every 3 epochs (so a graceful stop's checkpoint
    /// is usually off the interval). Long enough that the first two still run when a 'sweeper stop' started on a busy
    /// machine (seconds to start) reaches them.
    /// </summary>
    private string Spec(double epochSeconds = 0.8, int interval = 3) =>
        SyntheticSpec.Write(_dir, "stopping", Epochs, epochSeconds, [0.01, 0.1, 0.3], metric: "test_accuracy", interval: interval);

    [GeneratedRegex(@"run directory (\S+)")]
    private static partial Regex RunDirectoryLine();

    [GeneratedRegex(@"^(t\d{4}) epoch (\d+)/")]
    private static partial Regex EpochLine();

    private static async Task<string> RunDirectoryOf(SweeperProcess.Running run) =>
        RunDirectoryLine().Match(await run.WaitForLineAsync(l => l.Contains("run directory "), Startup)).Groups[1].Value;

    private sealed record Trial(string Id, string State, bool Interrupted, int? Checkpoint, string? CheckpointPath, int[] Epochs, int[] ResumedFrom, string? Reason);

    private static (string? StopReason, List<Trial> Trials) Results(string runDir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        var trials = doc.RootElement.GetProperty("trials").EnumerateArray().Select(t => new Trial(
            t.GetProperty("trial").GetString()!,
            t.GetProperty("state").GetString()!,
            t.GetProperty("interrupted").GetBoolean(),
            t.GetProperty("checkpoint").ValueKind == JsonValueKind.Object ? t.GetProperty("checkpoint").GetProperty("epoch").GetInt32() : null,
            t.GetProperty("checkpoint").ValueKind == JsonValueKind.Object ? t.GetProperty("checkpoint").GetProperty("path").GetString() : null,
            t.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()).ToArray(),
            t.GetProperty("resumes").EnumerateArray().Select(r => r.GetProperty("from_epoch").GetInt32()).ToArray(),
            t.GetProperty("reason").GetString())).ToList();
        return (doc.RootElement.GetProperty("stop_reason").GetString(), trials);
    }

    /// <summary>The epochs each trial reported in a run's output ("t0001 epoch 3/8 ...").</summary>
    private static ILookup<string, int> EpochsPrinted(string output) =>
        output.Split('\n').Select(l => EpochLine().Match(l)).Where(m => m.Success)
            .ToLookup(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));

    /// <summary>Resumes <paramref name="runDir"/> to its end: every trial once, completed, its epochs 1..8 once each; the interrupted ones went on from their checkpoint.</summary>
    private async Task<SweeperProcess.Outcome> ResumeToTheEnd(string runDir, List<Trial> before)
    {
        var resume = await SweeperProcess.RunAsync(_dir, Finish, "resume", runDir);
        Assert.True(resume.ExitCode == 0, resume.ToString());
        Assert.Contains($"{before.Count(t => t.Interrupted)} interrupted", resume.Stdout);
        var (reason, after) = Results(runDir);
        Assert.Null(reason);
        Assert.Equal(["t0001", "t0002", "t0003"], after.Select(t => t.Id));
        Assert.All(after, t =>
        {
            Assert.Equal("completed", t.State);
            Assert.Equal(Enumerable.Range(1, Epochs), t.Epochs);
        });
        var printed = EpochsPrinted(resume.Stdout);
        foreach (var was in before.Where(t => t.Interrupted))
        {
            var now = after.Single(t => t.Id == was.Id);
            int from = was.Checkpoint ?? 0;
            if (was.Epochs.Length == 0) Assert.Empty(now.ResumedFrom); // never ran: it simply runs
            else Assert.Equal([from], now.ResumedFrom);
            Assert.Equal(Enumerable.Range(from + 1, Epochs - from), printed[was.Id].Order()); // no epoch run twice
        }
        Assert.False(File.Exists(Path.Combine(runDir, "stop.request")));
        return resume;
    }

    [Fact]
    public async Task Stop_Graceful_RunningTrialsCheckpointTheirEpochRunExits130_ResumeCompletesEachTrialOnce()
    {
        using var run = SweeperProcess.Start(_dir, "run", Spec());
        var runDir = await RunDirectoryOf(run);
        await run.WaitForLineAsync(l => l.Contains(" epoch 1/8 "), Startup);

        var stop = await SweeperProcess.RunAsync(_dir, Finish, "stop", runDir);

        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Equal(130, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("the sweep took the request", stop.Stdout);
        Assert.Contains("stop reason: stopped by request of pid", stop.Stdout); // read from the journal
        Assert.Contains($"continue it with: sweeper resume {runDir}", stop.Stdout);
        Assert.Contains("stop request: stopped by request of pid", run.Output);
        Assert.False(File.Exists(Path.Combine(runDir, "stop.request")));
        Assert.True(File.Exists(Path.Combine(runDir, "summary.md")));
        var (reason, trials) = Results(runDir);
        Assert.Matches(@"^stopped by request of pid \d+ on \S+ at [0-9-]+ [0-9:]+Z \(sweeper stop\)$", reason);
        var ran = trials.Where(t => t.Interrupted && t.Epochs.Length > 0).ToList();
        Assert.NotEmpty(ran);
        foreach (var t in ran)
        {
            // Its last finished epoch is recorded and checkpointed, whatever the interval: nothing finished is lost.
            Assert.Equal(("stopped", reason), (t.State, t.Reason));
            Assert.Equal(t.Epochs[^1], t.Checkpoint);
            Assert.True(File.Exists(t.CheckpointPath), t.CheckpointPath);
        }
        Assert.All(trials, t => Assert.True(t.State == "completed" || t.Interrupted, t.Id));

        await ResumeToTheEnd(runDir, trials);
    }

    [Fact]
    public async Task Stop_Now_RunStopsAtOnceAndExits130_ResumeContinuesFromTheNewestCheckpoints()
    {
        using var run = SweeperProcess.Start(_dir, "run", Spec(interval: 1));
        var runDir = await RunDirectoryOf(run);
        await run.WaitForLineAsync(l => l.Contains(" epoch 2/8 "), Startup);

        var stop = await SweeperProcess.RunAsync(_dir, Finish, "stop", runDir, "--now");

        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Equal(130, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("stop reason: stopped at once by request of pid", stop.Stdout);
        Assert.Contains("stopping the sweep at once", run.Output);
        var (reason, trials) = Results(runDir);
        Assert.EndsWith("(sweeper stop --now)", reason);
        Assert.Contains(trials, t => t.Interrupted && t.Checkpoint >= 2);

        await ResumeToTheEnd(runDir, trials);
    }

    [Fact]
    public async Task StopNoWait_CoordinatorWithARemoteWorker_TheWorkersTrialsCheckpointTheirEpochAndTheWorkerLeaves()
    {
        var port = TestPorts.Free().ToString(CultureInfo.InvariantCulture);
        using var run = SweeperProcess.Start(_dir, "run", Spec(epochSeconds: 1.2), "--no-local-worker", "--port", port);
        var runDir = await RunDirectoryOf(run);
        using var worker = SweeperProcess.Start(_dir, "worker", "--join", "127.0.0.1:" + port, "--slots", "2");
        await run.WaitForLineAsync(l => l.Contains(" epoch 1/8 "), Startup);

        var stop = await SweeperProcess.RunAsync(_dir, Finish, "stop", runDir, "--no-wait");

        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Contains("not waiting", stop.Stdout);
        Assert.Equal(130, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60))); // leaves with the coordinator
        Assert.False(File.Exists(Path.Combine(runDir, "stop.request"))); // taken by the sweep
        var (_, trials) = Results(runDir);
        var ran = trials.Where(t => t.Interrupted && t.Epochs.Length > 0).ToList();
        Assert.NotEmpty(ran);
        Assert.All(ran, t => Assert.Equal(t.Epochs[^1], t.Checkpoint)); // the worker saved the epoch it finished
        Assert.DoesNotContain("TrialFailed", worker.Output);
        Assert.All(trials, t => Assert.NotEqual("failed", t.State));
    }

    [Fact]
    public async Task Stop_TrialsThatCannotFinishTheirEpoch_TimesOutWithExit1_ThenStopNowEndsTheSweep()
    {
        // The only worker is frozen (SIGSTOP) mid-epoch: a graceful stop waits for epochs that never end.
        var port = TestPorts.Free().ToString(CultureInfo.InvariantCulture);
        using var run = SweeperProcess.Start(_dir, "run", Spec(), "--no-local-worker", "--port", port);
        var runDir = await RunDirectoryOf(run);
        using var worker = SweeperProcess.Start(_dir, "worker", "--join", "127.0.0.1:" + port, "--slots", "2");
        await run.WaitForLineAsync(l => l.Contains(" epoch 1/8 "), Startup);
        worker.Signal("STOP");

        var waited = await SweeperProcess.RunAsync(_dir, Finish, "stop", runDir, "--timeout", "3");

        Assert.True(waited.ExitCode == 1, waited.ToString());
        Assert.Contains("the sweep took the request", waited.Stdout);
        Assert.Contains($"error: the sweep in {runDir} (pid {run.Id.ToString(CultureInfo.InvariantCulture)}) is still running after 3 s; it is stopping", waited.Stderr);
        Assert.False(run.HasExited);

        var now = await SweeperProcess.RunAsync(_dir, Finish, "stop", runDir, "--now");

        Assert.True(now.ExitCode == 0, now.ToString());
        Assert.Equal(130, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("stop reason: stopped by request of pid", now.Stdout); // the first request's reason stays
        var (_, trials) = Results(runDir);
        Assert.All(trials, t => Assert.True(t.Interrupted, t.Id));
    }

    [Fact]
    public async Task Stop_NothingRunsThere_Exit2AndNoFileLeft()
    {
        var done = await SweeperProcess.RunAsync(_dir, Finish, "run", Spec(epochSeconds: 0));
        Assert.True(done.ExitCode == 0, done.ToString());
        var runDir = RunDirectoryLine().Match(done.Stdout).Groups[1].Value;
        var before = Directory.GetFileSystemEntries(runDir).Order().ToList();

        var stop = await SweeperProcess.RunAsync(_dir, Startup, "stop", runDir);

        Assert.True(stop.ExitCode == 2, stop.ToString());
        Assert.Equal($"error: no sweep runs in {runDir} (no sweeper run or resume holds it): nothing to stop", stop.Stderr.Trim());
        Assert.Equal(before, Directory.GetFileSystemEntries(runDir).Order().ToList());

        var notARun = await SweeperProcess.RunAsync(_dir, Startup, "stop", _dir);
        Assert.True(notARun.ExitCode == 2, notARun.ToString());
        Assert.Contains("is not a Sweeper run directory", notARun.Stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "stop.request")));
        var badTimeout = await SweeperProcess.RunAsync(_dir, Startup, "stop", runDir, "--timeout", "0");
        Assert.True(badTimeout.ExitCode == 2, badTimeout.ToString());
        Assert.Contains("--timeout must be", badTimeout.Stderr);
    }

    [Fact]
    public async Task CtrlC_ThenResumeWithAStaleRequestLeftOver_TheStoppedTrialsContinueAndTheRequestIsIgnored()
    {
        using var run = SweeperProcess.Start(_dir, "run", Spec(interval: 1));
        var runDir = await RunDirectoryOf(run);
        await run.WaitForLineAsync(l => l.Contains(" epoch 2/8 "), Startup);
        run.Signal("INT");
        Assert.Equal(130, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var (_, trials) = Results(runDir);
        Assert.Contains(trials, t => t.Interrupted && t.Checkpoint >= 1);
        // A request its sweep never took (written as 'sweeper stop --no-wait' writes it, just before that sweep ended).
        File.WriteAllText(Path.Combine(runDir, "stop.request"), """{"mode":"graceful","pid":1,"host":"elsewhere","at":"2026-12-06T07:00:00Z"}""");

        var resume = await ResumeToTheEnd(runDir, trials);

        Assert.Contains("warning: ignored a stop request left from before this sweep started (stopped by request of pid 1 on elsewhere", resume.Stderr);
    }
}
