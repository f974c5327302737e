using System.Globalization;
using System.Text.Json;

namespace Sweeper.Cli.Tests;

/// <summary>
/// <c>sweeper run --run-dir DIR</c> through the real program: what a supervisor (a Kubernetes StatefulSet, systemd)
/// needs when it starts the coordinator again after a crash. The same command continues the same sweep, runs no finished
/// trial twice, does nothing once the sweep finished, and never writes into a folder that holds something else.
/// </summary>
public sealed class RunDirOptionTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-rundir-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>4 synthetic trials, 2 at a time, of <paramref name="epochs"/> epochs of <paramref name="seconds"/> s each.</summary>
    private string Spec(string name, int epochs, double seconds) => SyntheticSpec.Write(_dir, name, epochs, seconds, [0.01, 0.03, 0.1, 0.3]);

    private Task<SweeperProcess.Outcome> Sweeper(params string[] args) => SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(3), args);

    [Fact]
    public async Task RunDir_KilledHardThenTheSameCommandAgain_ContinuesTheSweepEachTrialOnceThenNothingToRun()
    {
        var spec = Spec("supervised", 6, 0.5);
        var runDir = Path.Combine(_dir, "runs", "supervised");
        using (var first = SweeperProcess.Start(_dir, "run", spec, "--run-dir", runDir))
        {
            await first.WaitForLineAsync(l => l.Contains(" epoch 2/6 "), Startup);
            first.KillHard(); // the pod dies: no results written, the journal holds what finished
        }
        Assert.True(File.Exists(Path.Combine(runDir, "journal.db")));
        Assert.False(File.Exists(Path.Combine(runDir, "results.json")));

        var again = await Sweeper("run", spec, "--run-dir", runDir); // the supervisor starts the same command again
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("holds this sweep, which did not end: resuming it", again.Stdout);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json"))))
        {
            var trials = doc.RootElement.GetProperty("trials").EnumerateArray().ToList();
            Assert.Equal(["t0001", "t0002", "t0003", "t0004"], trials.Select(t => t.GetProperty("trial").GetString()));
            Assert.All(trials, t => Assert.Equal("completed", t.GetProperty("state").GetString()));
            Assert.All(trials, t => Assert.Equal(6, t.GetProperty("epochs").GetArrayLength()));
        }
        Assert.Single(Directory.GetDirectories(Path.Combine(_dir, "runs"))); // no second run directory

        var results = File.ReadAllBytes(Path.Combine(runDir, "results.json"));
        var third = await Sweeper("run", spec, "--run-dir", runDir);
        Assert.True(third.ExitCode == 0, third.ToString());
        Assert.Contains("has finished: nothing to run", third.Stdout);
        Assert.Equal(results, File.ReadAllBytes(Path.Combine(runDir, "results.json")));
    }

    [Fact]
    public async Task RunDir_NewFolder_RunsThere_OtherSpecAndForeignFolderRefused()
    {
        var runDir = Path.Combine(_dir, "fixed");
        var run = await Sweeper("run", Spec("quick", 1, 0), "--run-dir", runDir);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(Path.Combine(runDir, "results.json")));

        var other = await Sweeper("run", Spec("other", 1, 0), "--run-dir", runDir);
        Assert.True(other.ExitCode == 2, other.ToString());
        Assert.Contains("holds the sweep of another spec", other.Stderr);

        var foreign = Path.Combine(_dir, "foreign");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "notes.txt"), "mine");
        var refused = await Sweeper("run", Spec("quick", 1, 0), "--run-dir", foreign);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("neither empty nor a run directory", refused.Stderr);
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(foreign).Select(Path.GetFileName));

        var both = await Sweeper("run", Spec("quick", 1, 0), "--run-dir", runDir, "--output", _dir);
        Assert.True(both.ExitCode == 2, both.ToString());
        Assert.Contains("--output and --run-dir exclude each other", both.Stderr);
    }
}
