using System.Text.Json;
using System.Text.RegularExpressions;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// Several sweeper processes on 127.0.0.1, killed with SIGKILL mid-trial: nothing finished is lost, nothing runs
/// twice, and interrupted trials continue from their checkpoints.
/// </summary>
public sealed partial class ClusterProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-cluster-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static string SyntheticSpec(int epochs, double epochSeconds, int concurrent) => $"""
        name: synthetic
        seed: 5
        objective: {"{"}metric: test_accuracy, mode: max{"}"}
        trainable:
          model: synthetic
          dataset: {"{"}name: fashion_mnist, path: .{"}"}
          epochs: {epochs}
          synthetic: {"{"}epoch_seconds: {epochSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}{"}"}
        parameters:
          trainable.optimizer.lr: {"{"}values: [0.01, 0.03, 0.1, 0.3]{"}"}
        resources: {"{"}max_concurrent_trials: {concurrent}{"}"}
        checkpoint: {"{"}interval_epochs: 1{"}"}
        output: {"{"}dir: runs{"}"}
        """;

    private string WriteSpec(string text)
    {
        var path = Path.Combine(_dir, "spec.yaml");
        File.WriteAllText(path, text);
        return path;
    }


    [GeneratedRegex(@"run directory (\S+)")]
    private static partial Regex RunDirectoryLine();

    private static List<JsonElement> Trials(string runDir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        return doc.RootElement.GetProperty("trials").EnumerateArray().Select(t => t.Clone()).ToList();
    }

    [Fact]
    public async Task WorkerKilled_ItsTrialsFinishOnAnotherWorkerFromTheirCheckpoints()
    {
        var spec = WriteSpec(SyntheticSpec(epochs: 6, epochSeconds: 0.4, concurrent: 2));
        var port = TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var coordinator = SweeperProcess.Start(_dir, "run", spec, "--no-local-worker", "--port", port);
        var runDir = RunDirectoryLine().Match(await coordinator.WaitForLineAsync(l => l.Contains("run directory "), TimeSpan.FromSeconds(60))).Groups[1].Value;
        using var doomed = SweeperProcess.Start(_dir, "worker", "--join", "127.0.0.1:" + port, "--slots", "2");

        await coordinator.WaitForLineAsync(l => l.Contains(" epoch 2/6 "), TimeSpan.FromSeconds(60));
        doomed.KillHard();
        using var rescuer = SweeperProcess.Start(_dir, "worker", "--join", "127.0.0.1:" + port, "--slots", "2");

        Assert.Equal(0, await coordinator.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        Assert.Equal(0, await rescuer.WaitForExitAsync(TimeSpan.FromSeconds(60))); // leaves with the coordinator
        var trials = Trials(runDir);
        Assert.Equal(["t0001", "t0002", "t0003", "t0004"], trials.Select(t => t.GetProperty("trial").GetString()));
        Assert.All(trials, t => Assert.Equal("completed", t.GetProperty("state").GetString()));
        Assert.All(trials, t => Assert.Equal([1, 2, 3, 4, 5, 6], t.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32())));
        var resumed = trials.Where(t => t.GetProperty("resumes").GetArrayLength() > 0).ToList();
        Assert.InRange(resumed.Count, 1, 2); // the trials that were running on the killed worker
        foreach (var t in resumed)
        {
            var resume = Assert.Single(t.GetProperty("resumes").EnumerateArray());
            Assert.InRange(resume.GetProperty("from_epoch").GetInt32(), 1, 5); // from a checkpoint, not from scratch
            Assert.Contains("left the cluster", resume.GetProperty("reason").GetString());
        }
        Assert.Contains("t000", File.ReadAllText(Path.Combine(runDir, "results.csv")));
    }

    [Fact]
    public async Task CoordinatorKilled_ResumeCompletesEveryTrialExactlyOnce()
    {
        // Epochs of a second: the kill lands while t0002 runs even when a loaded machine delays it (0.3 s was seen to
        // let t0002 finish first under the whole suite).
        var spec = WriteSpec(SyntheticSpec(epochs: 4, epochSeconds: 1.0, concurrent: 1));
        string runDir;
        using (var first = SweeperProcess.Start(_dir, "run", spec))
        {
            runDir = RunDirectoryLine().Match(await first.WaitForLineAsync(l => l.Contains("run directory "), TimeSpan.FromSeconds(60))).Groups[1].Value;
            await first.WaitForLineAsync(l => l.StartsWith("t0002 epoch 2/4", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            first.KillHard();
        }
        Assert.False(File.Exists(Path.Combine(runDir, "results.json"))); // it died before the end

        var resumed = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "resume", runDir);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("1 trial(s) finished, 1 interrupted", resumed.Stdout);
        Assert.DoesNotContain("t0001 epoch", resumed.Stdout); // finished work is not run again
        var trials = Trials(runDir);
        Assert.Equal(["t0001", "t0002", "t0003", "t0004"], trials.Select(t => t.GetProperty("trial").GetString()));
        Assert.All(trials, t => Assert.Equal("completed", t.GetProperty("state").GetString()));
        Assert.All(trials, t => Assert.Equal([1, 2, 3, 4], t.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32())));
        var t2 = trials[1].GetProperty("resumes").EnumerateArray().Single();
        Assert.InRange(t2.GetProperty("from_epoch").GetInt32(), 1, 3);
        Assert.Equal("the coordinator restarted", t2.GetProperty("reason").GetString());
        Assert.Equal(0, trials[0].GetProperty("resumes").GetArrayLength());
    }
    /// <summary>
    /// A worker frozen with SIGSTOP (a long GC pause, a frozen VM) is downed and its trials continue on another worker;
    /// woken with SIGCONT it fences itself and exits 1 without touching the rescuer's checkpoint folders, and every
    /// trial's epochs are in the results exactly once.
    /// </summary>
    [Fact]
    public async Task WorkerPausedThenWoken_FencesItself_RescuerFilesUntouched_ResultsExactlyOnce()
    {
        var spec = WriteSpec(SyntheticSpec(epochs: 10, epochSeconds: 0.5, concurrent: 2));
        var port = TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var coordinator = SweeperProcess.Start(_dir, "run", spec, "--no-local-worker", "--port", port);
        var runDir = RunDirectoryLine().Match(await coordinator.WaitForLineAsync(l => l.Contains("run directory "), TimeSpan.FromSeconds(60))).Groups[1].Value;
        using var paused = SweeperProcess.Start(_dir, "worker", "--join", "127.0.0.1:" + port, "--slots", "2");
        await coordinator.WaitForLineAsync(l => l.StartsWith("t0001 epoch 2/10", StringComparison.Ordinal), TimeSpan.FromSeconds(60));

        paused.Signal("STOP");
        var pausedAt = DateTime.UtcNow;
        using var rescuer = SweeperProcess.Start(_dir, "worker", "--join", "127.0.0.1:" + port, "--slots", "2");
        // Epoch 7 of t0001 can only come from the rescuer: the paused worker was at epoch 2 or 3.
        await coordinator.WaitForLineAsync(l => l.StartsWith("t0001 epoch 7/10", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
        var rescuerFolders = OwnedFolders(runDir, rescuer.Id);
        Assert.NotEmpty(rescuerFolders);
        var before = rescuerFolders.SelectMany(Directory.GetFiles).ToDictionary(f => f, File.GetLastWriteTimeUtc);

        paused.Signal("CONT");
        var fencedExit = await paused.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, fencedExit);
        Assert.Contains("fenced itself", paused.Output);
        // The woken worker claimed no new folder and wrote nothing into the rescuer's.
        Assert.All(OwnedFolders(runDir, paused.Id), f =>
            Assert.True(File.GetLastWriteTimeUtc(Path.Combine(f, "assignment.txt")) < pausedAt, $"{f} was claimed after the pause"));
        foreach (var (file, written) in before)
            if (File.Exists(file) && File.GetLastWriteTimeUtc(file) != written)
                Assert.Fail($"{file} was rewritten after the paused worker woke up (the rescuer never rewrites a saved file)");
        Assert.Equal(0, await coordinator.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        var trials = Trials(runDir);
        Assert.Equal(["t0001", "t0002", "t0003", "t0004"], trials.Select(t => t.GetProperty("trial").GetString()));
        Assert.All(trials, t => Assert.Equal("completed", t.GetProperty("state").GetString()));
        Assert.All(trials, t => Assert.Equal(Enumerable.Range(1, 10), t.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32())));
    }

    /// <summary>The checkpoint folders (<c>&lt;trial&gt;/aNNNN</c>) claimed by the process <paramref name="pid"/>.</summary>
    private static List<string> OwnedFolders(string runDir, int pid) =>
        Directory.GetFiles(Path.Combine(runDir, "checkpoints"), "assignment.txt", SearchOption.AllDirectories)
            .Where(f => File.ReadAllLines(f).Contains($"pid={pid}"))
            .Select(f => Path.GetDirectoryName(f)!)
            .ToList();
}
