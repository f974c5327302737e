using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Sweeper.Cluster.Journal;

namespace Sweeper.Cli.Tests;

/// <summary>
/// <c>sweeper resume --rerun-failed</c>, <c>--extend N</c> and a run directory moved with its spec's folder, against real
/// runs: a program trainable that fails or diverges while a file says it is broken, and synthetic TPE and grid sweeps.
/// </summary>
public sealed partial class ResumeRerunTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-rerun-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// While a file named <c>broken</c> is in its working directory, t0002 exits before its first epoch (a crash; with no
    /// retries the trial fails) and t0003 reports a NaN loss (stability supervision stops it). Otherwise every trial
    /// reports the accuracy written in <c>acc.txt</c> of the folder given as its argument (the spec's data set path).
    /// </summary>
    private const string Program = """
        #!/bin/sh
        echo "cwd: $(pwd)"
        if [ -e broken ]; then
          case "$SWEEPER_TRIAL_ID" in
            t0002) echo "broken on purpose" >&2; exit 3 ;;
            t0003) echo '{"step": 1, "loss": NaN}'; exec sleep 60 ;;
          esac
        fi
        acc=$(cat "$1/acc.txt")
        echo '{"step": 1, "loss": 0.5}'
        echo "{\"epoch\": 1, \"val_accuracy\": $acc, \"loss\": 0.5}"
        echo "{\"epoch\": 2, \"val_accuracy\": $acc, \"loss\": 0.4}"
        """;

    /// <summary>The program swept at random over a learning rate it ignores; every path relative to the spec's folder.</summary>
    private static string ProgramSpec(int trials, string extra = "") => $$"""
        name: program
        seed: 3
        objective: {metric: val_accuracy, mode: max}
        trainable:
          command: [sh, train.sh, "${trainable.dataset.path}"]
          workdir: ../programs
          dataset: {path: ../data}
          epochs: 2
          kill_grace: 1s
        parameters:
          trainable.optimizer.lr: {log_uniform: [0.001, 0.1]}
        search: {algorithm: random, num_samples: {{trials}}}
        crashes: {max_retries: 0}
        stability:
          monitor: {warmup_steps: 1}
          diverged: {action: stop}
        resources: {max_concurrent_trials: 3}
        {{extra}}
        """;

    /// <summary>configs/spec.yaml, programs/train.sh (broken) and data/acc.txt under <paramref name="root"/>; returns the spec's path.</summary>
    private static string Layout(string root, string spec, string accuracy)
    {
        foreach (var folder in new[] { "configs", "programs", "data" }) Directory.CreateDirectory(Path.Combine(root, folder));
        File.WriteAllText(Path.Combine(root, "programs", "train.sh"), Program);
        File.WriteAllText(Path.Combine(root, "programs", "broken"), "");
        File.WriteAllText(Path.Combine(root, "data", "acc.txt"), accuracy);
        var path = Path.Combine(root, "configs", "spec.yaml");
        File.WriteAllText(path, spec);
        return path;
    }

    [GeneratedRegex(@"run directory (\S+)")]
    private static partial Regex RunDirectoryLine();

    private static string RunDirectoryOf(string output) => RunDirectoryLine().Match(output).Groups[1].Value;

    private static Dictionary<string, JsonObject> Trials(string runDir) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")))!["trials"]!.AsArray()
            .Select(t => t!.AsObject()).ToDictionary(t => (string)t["trial"]!);

    private static string State(JsonObject trial) => (string)trial["state"]!;

    private static List<JsonObject> Attempts(JsonObject trial) => trial["attempts"]!.AsArray().Select(a => a!.AsObject()).ToList();

    [Fact]
    public async Task RerunFailedAndExtend_FailedAndDivergedTrialsRunAgainAsNewAttempts_HistoryKept_TwoMoreTrials()
    {
        var spec = Layout(_dir, ProgramSpec(trials: 3), "0.81");
        var first = await SweeperProcess.RunAsync(_dir, Timeout, "run", spec, "--output", Path.Combine(_dir, "runs"));
        Assert.True(first.ExitCode == 0, first.ToString());
        var runDir = RunDirectoryOf(first.Stdout);
        var before = Trials(runDir);
        Assert.Equal(["completed", "failed", "stopped"], before.Values.Select(State));
        Assert.StartsWith("stability: ", (string)before["t0003"]["reason"]!);
        File.Delete(Path.Combine(_dir, "programs", "broken"));

        var resumed = await SweeperProcess.RunAsync(_dir, Timeout, "resume", runDir, "--rerun-failed", "--extend", "2");

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("rerunning 2 trial(s) as new attempts from scratch with their original config: t0002 (failed: ", resumed.Stdout);
        Assert.Contains("t0003 (stopped: stability: ", resumed.Stdout);
        Assert.Contains("extending by 2 trial(s): t0004–t0005 (5 in all)", resumed.Stdout);
        var after = Trials(runDir);
        Assert.Equal(["t0001", "t0002", "t0003", "t0004", "t0005"], after.Keys);
        Assert.All(after.Values, t => Assert.Equal("completed", State(t)));
        Assert.True(JsonNode.DeepEquals(before["t0001"], after["t0001"]), $"{before["t0001"]}\n{after["t0001"]}");
        foreach (var id in new[] { "t0002", "t0003" })
        {
            Assert.Equal(before[id]["parameters"]!.ToJsonString(), after[id]["parameters"]!.ToJsonString());
            Assert.Equal([1, 2], after[id]["epochs"]!.AsArray().Select(e => (int)e!["epoch"]!)); // the new attempt's
            Assert.Equal(0.81, (double)after[id]["objective"]!);
            Assert.Null(after[id]["reason"]);
        }
        var failed = Attempts(after["t0002"]);
        Assert.Equal(2, failed.Count);
        Assert.StartsWith("failed: ", (string)failed[0]["outcome"]!);
        Assert.Contains("broken on purpose", (string)failed[0]["outcome"]!);
        Assert.False((bool)failed[0]["rerun"]!);
        Assert.True((bool)failed[1]["rerun"]!);
        Assert.Equal("rerun of failed trial, from scratch with its original config", (string)failed[1]["reason"]!);
        Assert.Equal(0, (int)failed[1]["from_epoch"]!);
        Assert.Equal(2, (int)failed[1]["last_epoch"]!);
        var diverged = Attempts(after["t0003"]);
        Assert.Equal(2, diverged.Count);
        Assert.Equal("diverged", (string)diverged[0]["verdict"]!);
        Assert.StartsWith("stopped: stability: ", (string)diverged[0]["outcome"]!);
        Assert.Equal("rerun of trial stopped by stability supervision, from scratch with its original config", (string)diverged[1]["reason"]!);
        Assert.Equal(before["t0002"]["crashes"]!.ToJsonString(), after["t0002"]["crashes"]!.ToJsonString()); // the crash stays in the history
        using (var journal = SweepJournal.Open(runDir))
        {
            var state = journal.Load();
            Assert.Equal(5, state.TrialLimit);
            Assert.Equal(2, state.Trials[1].Attempts.Count);
            Assert.Equal([1, 2], state.Trials[1].Epochs.Select(e => e.Epoch));
        }

        var again = await SweeperProcess.RunAsync(_dir, Timeout, "resume", runDir, "--rerun-failed");

        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("--rerun-failed: no trial failed or was stopped by stability supervision; nothing to rerun", again.Stdout);
        Assert.Equal(5, Trials(runDir).Count);
    }

    private const string TpeSpec = """
        name: tpe
        seed: 11
        objective: {metric: val_accuracy, mode: max}
        trainable:
          model: synthetic
          epochs: 3
          synthetic: {epoch_seconds: 0.2, noise_std: 0}
        parameters:
          trainable.optimizer.lr: {log_uniform: [0.001, 0.5]}
          trainable.width: {values: [0.25, 0.5]}
        search: {algorithm: tpe, num_samples: 4}
        resources: {max_concurrent_trials: 1}
        checkpoint: {interval_epochs: 1}
        """;

    [Fact]
    public async Task Extend_FinishedTpeSweep_ThreeMoreTrialsWithNewIds_EarlierOnesUntouched_TotalSurvivesAPlainResume()
    {
        var spec = Path.Combine(_dir, "tpe.yaml");
        File.WriteAllText(spec, TpeSpec);
        var first = await SweeperProcess.RunAsync(_dir, Timeout, "run", spec, "--output", Path.Combine(_dir, "runs"));
        Assert.True(first.ExitCode == 0, first.ToString());
        var runDir = RunDirectoryOf(first.Stdout);
        var before = Trials(runDir);
        Assert.Equal(4, before.Count);

        // Extended, then killed while the first new trial runs: the plain resume after it still runs all three.
        using (var extending = SweeperProcess.Start(_dir, "resume", runDir, "--extend", "3"))
        {
            await extending.WaitForLineAsync(l => l.Contains("extending by 3 trial(s): t0005–t0007 (7 in all)"), Timeout);
            await extending.WaitForLineAsync(l => l.StartsWith("t0005 epoch 1/3", StringComparison.Ordinal), Timeout);
            extending.KillHard();
        }
        var resumed = await SweeperProcess.RunAsync(_dir, Timeout, "resume", runDir);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var after = Trials(runDir);
        Assert.Equal(["t0001", "t0002", "t0003", "t0004", "t0005", "t0006", "t0007"], after.Keys);
        Assert.All(after.Values, t => Assert.Equal("completed", State(t)));
        foreach (var (id, trial) in before)
            Assert.True(JsonNode.DeepEquals(trial, after[id]), $"{trial}\n{after[id]}");
        var configurations = after.Values.Select(t => t["parameters"]!.ToJsonString()).ToList();
        Assert.Equal(configurations.Count, configurations.Distinct().Count());
        Assert.Equal([4, 5, 6], after.Values.Skip(4).Select(t => (int)t["config_index"]!));
    }

    [Fact]
    public async Task Extend_SweepThatReachedItsTarget_PlainResumeRunsNothing_ExtendRunsNMoreToTheEnd_ALaterPlainResumeAddsNone()
    {
        var spec = Path.Combine(_dir, "target.yaml");
        File.WriteAllText(spec, """
            name: target
            seed: 2
            objective: {metric: val_accuracy, mode: max}
            trainable: {model: synthetic, epochs: 2}
            parameters:
              trainable.optimizer.lr: {log_uniform: [0.001, 0.5]}
            search: {algorithm: random, num_samples: 6}
            stop: {target: 0.3, max_minutes: 30}
            resources: {max_concurrent_trials: 1}
            """);
        var first = await SweeperProcess.RunAsync(_dir, Timeout, "run", spec, "--output", Path.Combine(_dir, "runs"));
        Assert.True(first.ExitCode == 0, first.ToString());
        var runDir = RunDirectoryOf(first.Stdout);
        Assert.Equal(["t0001"], Trials(runDir).Keys); // t0001 reached 0.3: the sweep stopped

        var again = await SweeperProcess.RunAsync(_dir, Timeout, "resume", runDir); // ended by its rule: nothing to continue
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("ended by its stop rule (target val_accuracy >= 0.3 reached by t0001): nothing to resume", again.Stdout);
        Assert.Equal(["t0001"], Trials(runDir).Keys);

        var extended = await SweeperProcess.RunAsync(_dir, Timeout, "resume", runDir, "--extend", "2");

        Assert.True(extended.ExitCode == 0, extended.ToString());
        Assert.Contains("the sweep had stopped early (target val_accuracy >= 0.3 reached by t0001): it runs 2 more trial(s)", extended.Stdout);
        Assert.Contains("extending by 2 trial(s): t0002–t0003 (3 in all)", extended.Stdout);
        Assert.Contains("the time budget of 30 min counts from now", extended.Stdout);
        var trials = Trials(runDir);
        Assert.Equal(["t0001", "t0002", "t0003"], trials.Keys);
        Assert.All(trials.Values, t => Assert.Equal("completed", State(t)));
        Assert.True(trials.Values.Count(t => (double)t["objective"]! >= 0.3) >= 2, "a new trial reached the target too, and the sweep went on");
        Assert.Null(JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")))!["stop_reason"]);

        var plain = await SweeperProcess.RunAsync(_dir, Timeout, "resume", runDir);

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Equal(3, Trials(runDir).Count); // the extended total is kept, not the spec's 6
        using var journal = SweepJournal.Open(runDir);
        var state = journal.Load();
        Assert.Equal(3, state.TrialLimit);
        Assert.Equal("target val_accuracy >= 0.3 reached by t0001", state.TargetReached);
        Assert.Null(state.StopReason);
    }

    [Fact]
    public async Task Extend_GridSweep_RefusedExitTwoNothingChanged()
    {
        var spec = Path.Combine(_dir, "grid.yaml");
        File.WriteAllText(spec, """
            name: grid
            objective: {metric: val_accuracy, mode: max}
            trainable: {model: synthetic, epochs: 1}
            parameters:
              trainable.optimizer.lr: {values: [0.1, 0.01]}
            """);
        var first = await SweeperProcess.RunAsync(_dir, Timeout, "run", spec, "--output", Path.Combine(_dir, "runs"));
        Assert.True(first.ExitCode == 0, first.ToString());
        var runDir = RunDirectoryOf(first.Stdout);
        var results = File.ReadAllText(Path.Combine(runDir, "results.json"));

        var refused = await SweeperProcess.RunAsync(_dir, Timeout, "resume", runDir, "--extend", "2");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("error: --extend: sweep 'grid' searches a grid, which has no more points to propose", refused.Stderr);
        Assert.Contains("random or tpe", refused.Stderr);
        Assert.DoesNotContain("   at ", refused.Stderr);
        Assert.Equal(results, File.ReadAllText(Path.Combine(runDir, "results.json")));
        using var journal = SweepJournal.Open(runDir);
        var state = journal.Load();
        Assert.Equal(2, state.Trials.Count);
        Assert.Null(state.TrialLimit);
    }

    [Fact]
    public async Task Extend_Zero_RefusedExitTwo()
    {
        var refused = await SweeperProcess.RunAsync(_dir, Timeout, "resume", _dir, "--extend", "0");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--extend must be at least 1, got 0", refused.Stderr);
    }

    [Fact]
    public async Task Resume_RunMovedWithItsSpecFolder_RelativePathsResolveWhereTheyAreNow()
    {
        var a = Path.Combine(_dir, "A");
        var spec = Layout(a, ProgramSpec(trials: 2, extra: "checkpoint: {dir: ../checkpoints}"), "0.81");
        var first = await SweeperProcess.RunAsync(_dir, Timeout, "run", spec, "--output", Path.Combine(a, "runs"));
        Assert.True(first.ExitCode == 0, first.ToString());
        var runName = Path.GetFileName(RunDirectoryOf(first.Stdout));
        Assert.Equal("failed", State(Trials(RunDirectoryOf(first.Stdout))["t0002"]));

        var b = Path.Combine(_dir, "B");
        Directory.Move(a, b);
        File.Delete(Path.Combine(b, "programs", "broken"));
        File.WriteAllText(Path.Combine(b, "data", "acc.txt"), "0.77");
        var runDir = Path.Combine(b, "runs", runName);

        var resumed = await SweeperProcess.RunAsync(_dir, Timeout, "resume", runDir, "--rerun-failed");

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"relative paths in the spec resolve against {Path.Combine(b, "configs")} (the spec's folder, found from the run directory)", resumed.Stdout);
        var trials = Trials(runDir);
        Assert.Equal(0.81, (double)trials["t0001"]["objective"]!); // ran in A
        Assert.Equal("completed", State(trials["t0002"]));
        Assert.Equal(0.77, (double)trials["t0002"]["objective"]!); // B's data set
        var log = File.ReadAllText(Path.Combine(b, "checkpoints", runName, "t0002", "trial.log"));
        Assert.Contains($"cwd: {Path.Combine(b, "programs")}", log); // B's program folder, B's checkpoint folder
        Assert.False(Directory.Exists(a), "nothing may be written where the run was before");
    }
}
