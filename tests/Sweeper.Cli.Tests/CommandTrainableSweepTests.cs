using System.Text.Json;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// <c>sweeper run</c> on a program trainable: examples/python/train.py (plain Python) under ASHA, made to crash once per
/// trial and to turn its loss NaN at a high learning rate.
/// </summary>
public sealed class CommandTrainableSweepTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-command-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // One slot: t0001 runs alone, so ASHA lets it through every rung and it reaches its crash at epoch 2.
    private const string Spec = """
        name: python-program
        seed: 5
        objective: {metric: val_accuracy, mode: max}
        trainable:
          command: [python3, "PROGRAM", --lr, "${trainable.optimizer.lr}", --crash-at-epoch, "2",
                    --nan-at-step, "5", --nan-if-lr-above, "0.5", --sleep-per-step, "0.005"]
          epochs: 3
          optimizer: {lr: 0.1}
          kill_grace: 2s
        parameters:
          trainable.optimizer.lr: {values: [0.05, 0.1, 0.2, 1.0]}
        scheduler: {name: asha, grace_period: 1, reduction_factor: 2}
        stability:
          monitor: {warmup_steps: 1}
          diverged: {action: restart, from: last_healthy, change: [{trainable.optimizer.lr: "*0.1"}], max_restarts: 1}
        crashes: {max_retries: 2, backoff_seconds: 0.1}
        checkpoint: {interval_epochs: 1}
        """;

    [Fact]
    public async Task Run_PythonProgramUnderAsha_CrashResumesFromCheckpointNaNRestartsWithLowerLrAndNoProgramOutlivesTheSweep()
    {
        // The program's copy in this test's own folder: every process of this run has that path on its command line.
        File.Copy(Path.Combine(Repository.Root, "examples", "python", "train.py"), Path.Combine(_dir, "train.py"));
        var spec = Path.Combine(_dir, "spec.yaml");
        File.WriteAllText(spec, Spec.Replace("PROGRAM", Path.Combine(_dir, "train.py")));
        var output = Path.Combine(_dir, "runs");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromSeconds(90), "run", spec, "--output", output);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var runDir = Directory.GetDirectories(output).Single();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        var trials = doc.RootElement.GetProperty("trials").EnumerateArray().ToDictionary(t => t.GetProperty("trial").GetString()!);
        Assert.Equal(4, trials.Count);
        Assert.All(trials.Values, t => Assert.Contains(t.GetProperty("state").GetString(), new[] { "completed", "stopped" }));
        Assert.Contains(trials.Values, t => t.GetProperty("state").GetString() == "stopped");
        string Log(string trial) => File.ReadAllText(Path.Combine(runDir, "checkpoints", trial, "trial.log"));

        // Crash once at epoch 2, retried from the checkpoint after epoch 1: epoch 1 is not run again.
        var first = trials["t0001"];
        Assert.Equal("completed", first.GetProperty("state").GetString());
        var crash = Assert.Single(first.GetProperty("crashes").EnumerateArray());
        Assert.Contains("exited with code 3 before reporting epoch 2", crash.GetProperty("error").GetString());
        Assert.Equal(1, crash.GetProperty("after_epoch").GetInt32());
        Assert.Equal([1, 2, 3], first.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()));
        Assert.Contains("resuming after epoch 1 ====", Log("t0001"));
        Assert.Contains("resumed after epoch 1 from ", Log("t0001")); // the program's own word

        // A NaN loss at lr 1 is caught at its step; the restart runs the program with the declared lower lr.
        var diverging = trials["t0004"];
        var attempts = diverging.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Equal(2, attempts.Count);
        Assert.Equal("diverged", attempts[0].GetProperty("verdict").GetString());
        Assert.Equal(5, attempts[0].GetProperty("step").GetInt64());
        Assert.Contains("NaN", attempts[0].GetProperty("reason").GetString());
        Assert.Equal(0.1, attempts[1].GetProperty("changes").GetProperty("trainable.optimizer.lr").GetDouble(), 12);
        Assert.Contains("train.py --lr 1 --crash-at-epoch", Log("t0004"));
        Assert.Contains("train.py --lr 0.1 --crash-at-epoch", Log("t0004"));

        // No program of this run outlives it (stopped trials, the diverged attempt, crashed ones).
        Assert.Empty(ProcessesMentioning(_dir));
    }

    [Fact]
    public async Task Run_ProgramPrintingAMalformedLine_TrialFailsNamingTheLine_SweepEndsAndNoProgramIsLeft()
    {
        // Epoch 1 is fine; its second protocol line is not JSON; a child sleeps on in the background.
        var script = Path.Combine(_dir, "bad.sh");
        File.WriteAllText(script, "#!/bin/sh\nsleep 600 &\necho 'starting'\necho '{\"epoch\": 1, \"val_accuracy\": 0.5}'\necho '{\"epoch\": 2, \"val_accuracy\": oops}'\nsleep 600\n");
        var spec = Path.Combine(_dir, "bad.yaml");
        File.WriteAllText(spec, $$"""
            name: malformed
            objective: {metric: val_accuracy, mode: max}
            trainable:
              command: [/bin/sh, {{script}}]
              epochs: 3
              kill_grace: 1s
            crashes: {max_retries: 1, backoff_seconds: 0.1}
            """);

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromSeconds(60), "run", spec, "--output", Path.Combine(_dir, "runs"));

        Assert.DoesNotContain("   at ", outcome.Stderr + outcome.Stdout); // no stack trace
        var runDir = Directory.GetDirectories(Path.Combine(_dir, "runs")).Single();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        var trial = doc.RootElement.GetProperty("trials").EnumerateArray().Single();
        Assert.Equal("failed", trial.GetProperty("state").GetString());
        var reason = trial.GetProperty("reason").GetString();
        Assert.Contains("stdout line 3", reason); // "starting" is line 1
        Assert.Contains("oops", reason);
        Assert.Contains("starting", File.ReadAllText(Path.Combine(runDir, "checkpoints", "t0001", "trial.log")));
        Assert.Empty(ProcessesMentioning(script));
    }

    /// <summary>Live (non-zombie) processes whose command line contains <paramref name="marker"/>.</summary>
    private static List<string> ProcessesMentioning(string marker)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _)) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
                if (cmdline.Contains(marker, StringComparison.Ordinal) && state is not ("Z" or "X")) found.Add($"{Path.GetFileName(dir)}: {cmdline}");
            }
            catch (IOException) { } // gone meanwhile
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }
}
