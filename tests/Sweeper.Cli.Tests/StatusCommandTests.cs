using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sweeper.Cli.Tests;

/// <summary>
/// <c>sweeper status</c> and <c>sweeper ls</c> through the real program: on a sweep running in another process (which
/// must finish normally, every trial completed, however often it is read), on finished runs, the default run
/// directory, and folders that are not readable run directories.
/// </summary>
public sealed partial class StatusCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-status-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>3 synthetic trials, 2 at a time, of <paramref name="epochs"/> epochs of <paramref name="seconds"/> s each.</summary>
    private string Spec(string name, int epochs, double seconds) => SyntheticSpec.Write(_dir, name, epochs, seconds, [0.01, 0.03, 0.1], seed: 11);

    /// <summary>Runs a quick sweep to its end; its run directory.</summary>
    private async Task<string> FinishedRunAsync(string name)
    {
        var before = Directory.Exists(Path.Combine(_dir, "runs")) ? Directory.GetDirectories(Path.Combine(_dir, "runs")) : [];
        var run = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "run", Spec(name, 2, 0));
        Assert.True(run.ExitCode == 0, run.ToString());
        return Assert.Single(Directory.GetDirectories(Path.Combine(_dir, "runs")).Except(before));
    }

    private Task<SweeperProcess.Outcome> Sweeper(params string[] args) => SweeperProcess.RunAsync(_dir, Startup, args);

    private static JsonElement Json(SweeperProcess.Outcome outcome)
    {
        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        using var doc = JsonDocument.Parse(outcome.Stdout);
        return doc.RootElement.Clone();
    }

    private static void AssertOneLineError(SweeperProcess.Outcome outcome, string expected)
    {
        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Equal("", outcome.Stdout);
        var line = Assert.Single(outcome.Stderr.Trim().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }

    [GeneratedRegex(@"run directory (\S+)")]
    private static partial Regex RunDirectoryLine();

    [Fact]
    public async Task Status_SweepRunningInAnotherProcess_ShowsItsRunningTrialsAndTheSweepStillFinishes()
    {
        // 3 trials of 16 epochs of 0.5 s, 2 at a time: about 16 s, read all along by a watcher every 0.2 s.
        using var run = SweeperProcess.Start(_dir, "run", Spec("live", 16, 0.5));
        var runDir = RunDirectoryLine().Match(await run.WaitForLineAsync(l => l.Contains("run directory "), Startup)).Groups[1].Value;
        await run.WaitForLineAsync(l => l.Contains(" epoch 1/16 "), Startup); // printed once the journal holds it
        using var watcher = SweeperProcess.Start(_dir, "status", runDir, "--json", "--watch", "0.2");

        var text = await Sweeper("status", runDir);
        var json = Json(await Sweeper("status", runDir, "--json"));
        var pid = run.Id.ToString(CultureInfo.InvariantCulture);

        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Equal("", text.Stderr);
        Assert.Contains($"sweep live: running (pid {pid})", text.Stdout);
        Assert.Contains($"run directory: {runDir}", text.Stdout);
        Assert.Matches(@"trials: \d/3 finished \(\d pending, [12] running, \d completed, 0 failed, 0 stopped\); 2 at once", text.Stdout);
        Assert.Matches(@"ETA (\d+m)?\d+s", text.Stdout);
        Assert.Matches(@"│ t000\d\s+│ \d+/16\s+│ akka\.tcp://sweeper@127\.0\.0\.1:\d+\s+│ 1\s+│ 0\s+│ 0\s+│", text.Stdout);

        Assert.Equal("running", json.GetProperty("state").GetString());
        Assert.Equal(run.Id, json.GetProperty("pid").GetInt32());
        Assert.Equal(runDir, json.GetProperty("run_dir").GetString());
        Assert.Equal("live", json.GetProperty("sweep").GetString());
        Assert.Equal(3, json.GetProperty("trials").GetProperty("total").GetInt32());
        var running = json.GetProperty("running").EnumerateArray().ToList();
        Assert.NotEmpty(running);
        Assert.All(running, t =>
        {
            Assert.Matches("^t000[123]$", t.GetProperty("trial").GetString());
            Assert.InRange(t.GetProperty("epoch").GetInt32(), 0, 16);
            Assert.Equal(16, t.GetProperty("epochs").GetInt32());
            Assert.StartsWith("akka.tcp://sweeper@127.0.0.1:", t.GetProperty("worker").GetString());
            Assert.Equal(1, t.GetProperty("attempt").GetInt32());
            Assert.Equal(0, t.GetProperty("restarts").GetInt32());
        });
        Assert.Contains(running, t => t.GetProperty("epoch").GetInt32() >= 1);

        // The sweep finishes normally: every trial completed, nothing failed for being read.
        Assert.Equal(0, await run.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        Assert.DoesNotContain("locked", run.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("busy", run.Output, StringComparison.OrdinalIgnoreCase); // SQLITE_BUSY
        Assert.DoesNotContain("error", run.Output, StringComparison.OrdinalIgnoreCase);
        using (var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json"))))
        {
            var trials = results.RootElement.GetProperty("trials").EnumerateArray().ToList();
            Assert.Equal(3, trials.Count);
            Assert.All(trials, t => Assert.Equal("completed", t.GetProperty("state").GetString()));
            Assert.All(trials, t => Assert.Equal(16, t.GetProperty("epochs").GetArrayLength()));
        }

        // The watcher saw it run and stopped by itself once it had ended, with one JSON document per line.
        Assert.Equal(0, await watcher.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var states = watcher.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            return doc.RootElement.GetProperty("state").GetString();
        }).ToList();
        Assert.True(states.Count >= 2, watcher.Output);
        Assert.Equal("running", states[0]);
        Assert.Equal("finished", states[^1]);
    }

    [Fact]
    public async Task StatusWatch_CtrlC_EndsTheWatchWithExit0AndLeavesTheSweepRunning()
    {
        using var run = SweeperProcess.Start(_dir, "run", Spec("watched", 40, 0.5));
        var runDir = RunDirectoryLine().Match(await run.WaitForLineAsync(l => l.Contains("run directory "), Startup)).Groups[1].Value;
        await run.WaitForLineAsync(l => l.Contains(" epoch 1/40 "), Startup);
        using var watcher = SweeperProcess.Start(_dir, "status", runDir, "--watch", "1");
        await watcher.WaitForLineAsync(l => l.Contains("sweep watched: running"), Startup);

        watcher.Signal("INT");

        Assert.Equal(0, await watcher.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(run.HasExited, run.Output);
        run.Signal("INT");
        Assert.Equal(130, await run.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var after = await Sweeper("status", runDir); // Ctrl+C'd: its trials were interrupted, and sweeper resume continues them
        Assert.Contains("sweep watched: interrupted (cancelled by the user)", after.Stdout);
        Assert.Contains("stopped early: cancelled by the user", after.Stdout);
        Assert.Contains($"continue it with: sweeper resume {runDir}", after.Stdout);
    }

    [Fact]
    public async Task Status_RunKilledHard_InterruptedWithTheTrialsItCutOffAndHowToResume()
    {
        using var run = SweeperProcess.Start(_dir, "run", Spec("killed", 40, 0.5));
        var runDir = RunDirectoryLine().Match(await run.WaitForLineAsync(l => l.Contains("run directory "), Startup)).Groups[1].Value;
        await run.WaitForLineAsync(l => l.Contains(" epoch 1/40 "), Startup);

        run.KillHard(); // its lock dies with it; the lock file still names its pid

        var text = await Sweeper("status", runDir);
        var json = Json(await Sweeper("status", runDir, "--json"));
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("sweep killed: interrupted (no process runs it)", text.Stdout);
        Assert.Contains($"continue it with: sweeper resume {runDir}", text.Stdout);
        Assert.Contains("trials cut off while running (2;", text.Stdout);
        Assert.Equal("interrupted", json.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("pid").ValueKind);
        Assert.Equal(2, json.GetProperty("running").GetArrayLength());
        Assert.Contains(json.GetProperty("running").EnumerateArray(), t => t.GetProperty("epoch").GetInt32() >= 1);
        var ls = Json(await Sweeper("ls", "--json"));
        Assert.Equal("interrupted", Assert.Single(ls.GetProperty("runs").EnumerateArray()).GetProperty("state").GetString());
    }

    [Fact]
    public async Task StatusAndLs_FinishedRun_FinishedWithEveryTrialAndTheBest()
    {
        var runDir = await FinishedRunAsync("done");
        var files = Directory.GetFiles(runDir).Order().ToList();

        var text = await Sweeper("status", runDir);
        var json = Json(await Sweeper("status", runDir, "--json"));
        var ls = await Sweeper("ls");
        var lsJson = Json(await Sweeper("ls", "runs", "--json"));

        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("sweep done: finished", text.Stdout);
        Assert.Contains("trials: 3/3 finished (0 pending, 0 running, 3 completed, 0 failed, 0 stopped)", text.Stdout);
        Assert.Matches(@"best: t000\d val_accuracy=0\.\d{4} \(max\) after 2 epoch\(s\); lr=0\.\d+", text.Stdout);
        Assert.DoesNotContain("running trials", text.Stdout);
        Assert.Equal("finished", json.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("pid").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("eta_s").ValueKind);
        Assert.Equal(3, json.GetProperty("trials").GetProperty("completed").GetInt32());
        Assert.Equal(3, json.GetProperty("trials").GetProperty("finished").GetInt32());
        Assert.Empty(json.GetProperty("running").EnumerateArray());
        var best = json.GetProperty("best");
        using (var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json"))))
        {
            Assert.Equal(results.RootElement.GetProperty("best_trial").GetString(), best.GetProperty("trial").GetString());
            Assert.Equal(results.RootElement.GetProperty("finished_at").GetDateTimeOffset(), json.GetProperty("ended_at").GetDateTimeOffset());
        }
        Assert.True(best.GetProperty("parameters").TryGetProperty("trainable.optimizer.lr", out _));

        Assert.True(ls.ExitCode == 0, ls.ToString());
        Assert.Matches($@"│ done\s+│ {Regex.Escape(Path.GetFileName(runDir))}\s+│ \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+│ finished\s+│ 3/3\s+│ {best.GetProperty("trial").GetString()} val_accuracy=0\.\d{{4}}", ls.Stdout);
        var row = Assert.Single(lsJson.GetProperty("runs").EnumerateArray());
        Assert.Equal("done", row.GetProperty("sweep").GetString());
        Assert.Equal("finished", row.GetProperty("state").GetString());
        Assert.Equal(3, row.GetProperty("finished").GetInt32());
        Assert.Equal(3, row.GetProperty("total").GetInt32());
        Assert.Equal(best.GetProperty("trial").GetString(), row.GetProperty("best").GetProperty("trial").GetString());
        Assert.Equal(JsonValueKind.Null, row.GetProperty("error").ValueKind);

        Assert.Equal(files, Directory.GetFiles(runDir).Order().ToList()); // reading left no -wal, -shm or lock file behind
    }

    [Fact]
    public async Task Status_NoRunDirectoryGiven_TheNewestRunByItsStartNotItsName()
    {
        var older = await FinishedRunAsync("first");
        var renamed = Path.Combine(_dir, "runs", "zzz-" + Path.GetFileName(older)); // sorts last by name, started first
        Directory.Move(older, renamed);
        var newer = await FinishedRunAsync("second");

        var status = await Sweeper("status");
        var elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        var fromDir = await SweeperProcess.RunAsync(elsewhere, Startup, "status", "--dir", Path.Combine(_dir, "runs"), "--json");

        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains($"run directory: {newer}", status.Stdout);
        Assert.Contains("sweep second: finished", status.Stdout);
        Assert.Equal(newer, Json(fromDir).GetProperty("run_dir").GetString());
        AssertOneLineError(await SweeperProcess.RunAsync(elsewhere, Startup, "status"), "no run directory given, and the output folder 'runs' does not exist");
    }

    [Fact]
    public async Task StatusAndLs_NotARunDirectoryOrATruncatedJournal_OneLineErrorExit2()
    {
        var runDir = await FinishedRunAsync("broken");
        var plain = Directory.CreateDirectory(Path.Combine(_dir, "runs", "plain-folder")).FullName;
        var copy = Path.Combine(_dir, "runs", "truncated");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(runDir)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var journal = Path.Combine(copy, "journal.db");
        File.WriteAllBytes(journal, File.ReadAllBytes(journal)[..5000]);

        AssertOneLineError(await Sweeper("status", plain), "is not a Sweeper run directory: it holds no journal.db");
        AssertOneLineError(await Sweeper("status", Path.Combine(_dir, "missing")), "does not exist");
        AssertOneLineError(await Sweeper("status", copy), $"cannot read {journal}: ");
        AssertOneLineError(await Sweeper("ls", Path.Combine(_dir, "missing")), "folder");

        // ls lists the unreadable run with its error, skips the plain folder, and still lists the good run.
        var ls = Json(await Sweeper("ls", "--json"));
        var rows = ls.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal("finished", rows[0].GetProperty("state").GetString());
        Assert.Equal("truncated", rows[1].GetProperty("folder").GetString());
        Assert.StartsWith($"cannot read {journal}: ", rows[1].GetProperty("error").GetString());
        var text = await Sweeper("ls");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("unreadable", text.Stdout);
        Assert.DoesNotContain("plain-folder", text.Stdout);
        // The newest readable run is still found beside the broken one.
        Assert.Contains($"run directory: {runDir}", (await Sweeper("status")).Stdout);
    }
}
