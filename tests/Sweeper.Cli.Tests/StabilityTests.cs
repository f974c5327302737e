using System.Text.Json;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>Instability supervision end to end on the synthetic model (whose Adam runs at a high lr turn NaN).</summary>
public sealed class StabilityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-stability-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <param name="exitCode">0 when a trial completed; 1 when none did (every trial stopped).</param>
    private int _runs;

    /// <summary>Each run's standard output, in order (for failure messages: the node's slots and threads, the epochs as they came).</summary>
    private readonly List<string> _stdout = [];

    /// <summary>Every trial's first epoch as a line: whether a run trained as the others do from its start.</summary>
    private static string FirstEpochs(IEnumerable<JsonElement> trials) => string.Join("; ", trials.Select(t =>
        $"{t.GetProperty("trial").GetString()} seed {t.GetProperty("seed").GetInt64()}: " +
        (t.GetProperty("epochs").EnumerateArray().FirstOrDefault() is { ValueKind: JsonValueKind.Object } e
            ? string.Join(", ", new[] { "train_loss", "val_accuracy", "test_accuracy", "quant.flips_epoch" }
                .Select(k => $"{k} {(e.GetProperty("metrics").TryGetProperty(k, out var v) ? v.GetRawText() : "-")}"))
            : "no epoch")));

    private async Task<List<JsonElement>> RunAsync(string spec, int exitCode = 0)
    {
        var path = Path.Combine(_dir, "spec.yaml");
        File.WriteAllText(path, spec);
        var output = Path.Combine(_dir, "runs-" + ++_runs); // one parent per run: a test may run several
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(5), "run", path, "--output", output);
        Assert.True(outcome.ExitCode == exitCode, outcome.ToString());
        _stdout.Add(outcome.Stdout);
        var runDir = Directory.GetDirectories(output).Single();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        return doc.RootElement.GetProperty("trials").EnumerateArray().Select(t => t.Clone()).ToList();
    }

    private const string Diverging = """
        name: diverging
        seed: 2
        objective: {metric: test_accuracy, mode: max}
        trainable:
          model: synthetic
          epochs: 6
          optimizer: {name: adam, lr: 0.05}
          synthetic: {epoch_seconds: 0.02}
        stability:
          monitor: {warmup_steps: 1}
          diverged: {action: restart, from: last_healthy, change: [{trainable.optimizer.lr: "*0.1"}], max_restarts: 2}
        """;

    [Fact]
    public async Task Run_DivergingTrial_DetectedAtTheNaNStepRestartedWithTheChangeAndCompletes()
    {
        var trial = Assert.Single(await RunAsync(Diverging));

        Assert.Equal("completed", trial.GetProperty("state").GetString());
        Assert.Equal("healthy", trial.GetProperty("final_verdict").GetString());
        var attempts = trial.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Equal(2, attempts.Count);
        Assert.Equal("diverged", attempts[0].GetProperty("verdict").GetString());
        Assert.Equal(2, attempts[0].GetProperty("step").GetInt64()); // the synthetic run's loss is NaN from epoch 2: caught there
        Assert.Contains("NaN", attempts[0].GetProperty("reason").GetString());
        Assert.Equal(0.005, attempts[1].GetProperty("changes").GetProperty("trainable.optimizer.lr").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, attempts[1].GetProperty("verdict").ValueKind);
        Assert.Equal([1, 2, 3, 4, 5, 6], trial.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()));
        Assert.True(trial.GetProperty("objective").GetDouble() > 0.5);
    }

    /// <summary>
    /// configs/examples/unstable.yaml: a diverging run, and a real msqe_po2 run whose exponents oscillate, restarted from
    /// its newest checkpoint with the stable scale; judged by its outcome against the same spec with the oscillation left
    /// alone (a trial is bit-identical for the same spec and seed on one machine; across CPUs libtorch's kernels differ, so the
    /// accuracy is compared within the sampling noise of the validation and test sets).
    /// </summary>
    [Fact]
    public async Task Run_UnstableExample_DivergenceRestartsWithHalvedLrOscillationSteadiesWithStableScaleNoWorseThanLeftAlone()
    {
        var text = File.ReadAllText(Path.Combine(Repository.Root, "configs", "examples", "unstable.yaml"));
        var alone = text[..text.IndexOf("  oscillating:\n", StringComparison.Ordinal)] + "  oscillating: {action: continue}\n" + text[text.IndexOf("resources:", StringComparison.Ordinal)..];
        var trials = await RunAsync(text);
        static bool Is(JsonElement trial, string variant) => trial.GetProperty("parameters").GetProperty("variant").GetString() == variant;
        var untreated = (await RunAsync(alone)).Single(t => Is(t, "oscillating"));

        // A real divergence: learnable_po2's log2 scales under SGD at lr 2 turn the loss NaN in the first epoch.
        var diverging = trials.Single(t => Is(t, "diverging"));
        Assert.Equal("completed", diverging.GetProperty("state").GetString());
        var d = diverging.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Equal(2, d.Count);
        Assert.Equal("diverged", d[0].GetProperty("verdict").GetString());
        Assert.StartsWith("loss is NaN at step", d[0].GetProperty("reason").GetString());
        Assert.InRange(d[0].GetProperty("step").GetInt64(), 1, 162); // within the first epoch
        Assert.Equal(0, d[1].GetProperty("from_epoch").GetInt32()); // no epoch was judged healthy: from the start
        Assert.Equal(0.1, d[1].GetProperty("changes").GetProperty("trainable.optimizer.lr").GetDouble(), 12); // 2 × 0.05
        Assert.All(diverging.GetProperty("epochs").EnumerateArray(), e => Assert.True(double.IsFinite(e.GetProperty("metrics").GetProperty("train_loss").GetDouble())));

        var oscillating = trials.Single(t => Is(t, "oscillating"));
        Assert.Equal("completed", oscillating.GetProperty("state").GetString());
        var o = oscillating.GetProperty("attempts").EnumerateArray().ToList();
        // Seen twice under load (a CI run, a local ops/test): one attempt, no verdict, and first-epoch metrics unlike every
        // other run of this seed (val 0.49 against 0.4125): that run trained differently from its start. The message
        // carries what tells such a run apart: both runs' first epochs and their output (the node's slots × threads).
        Assert.True(o.Count == 2, "oscillating trial: " + oscillating.GetRawText() + "\nfirst epochs, treated run: " + FirstEpochs(trials) +
            "\nleft alone: " + FirstEpochs([untreated]) + "\n--- output of the runs\n" + string.Join("\n---\n", _stdout));
        Assert.Equal("oscillating", o[0].GetProperty("verdict").GetString());
        Assert.True(o[0].GetProperty("step").GetInt64() > 330, "judged only after the warm-up (two epochs)");
        Assert.Equal(2, o[1].GetProperty("from_epoch").GetInt32()); // from: latest: the epoch-2 checkpoint, not the start
        Assert.True(o[1].GetProperty("changes").GetProperty("trainable.quantizer.stable_scale").GetBoolean());
        Assert.Equal([1, 2, 3], oscillating.GetProperty("epochs").EnumerateArray().Select(e => e.GetProperty("epoch").GetInt32()));

        // The outcome against the same trial left alone: same first two epochs, fewer flips in the third, and no worse on
        // the metric the sweep selects on.
        double Metric(JsonElement trial, int epoch, string key) =>
            trial.GetProperty("epochs").EnumerateArray().Single(e => e.GetProperty("epoch").GetInt32() == epoch).GetProperty("metrics").GetProperty(key).GetDouble();
        Assert.Equal(Metric(untreated, 2, "val_accuracy"), Metric(oscillating, 2, "val_accuracy"));
        double flipsTreated = Metric(oscillating, 3, "quant.flips_epoch"), flipsAlone = Metric(untreated, 3, "quant.flips_epoch");
        Assert.True(flipsTreated < flipsAlone, $"epoch-3 flips: restarted {flipsTreated}, left alone {flipsAlone}");
        // No worse, by the yardstick `sweeper report` judges the paper's claims with: a difference counts when it exceeds
        // twice its standard error. Judged on the validation and test images together (400 + 500: one standard error of
        // the accuracy is about 0.014), as one pair of runs, so a remedy that costs accuracy beyond that noise fails.
        // The two runs are bit-identical up to the restart on one machine; the third epoch then lands some images apart,
        // which way depends on the CPU's kernels and the memory layout (seen, validation / test: restarted 0.775 / 0.774
        // against 0.7525 / 0.776 left alone; 0.77 / 0.786 against 0.7775 / 0.796 on an AVX-512 EPYC; channels-last on
        // that EPYC 0.75 / 0.768 against 0.7725 / 0.78). The study's own claim table finds the stable scale's gain "not
        // visible at this scale" (docs/study.md); this test asks only that it costs nothing measurable.
        double Pooled(JsonElement trial) => (400 * Metric(trial, 3, "val_accuracy") + 500 * Metric(trial, 3, "test_accuracy")) / 900;
        double treated = Pooled(oscillating), left = Pooled(untreated);
        double standardError = Math.Sqrt(left * (1 - left) / 900);
        Assert.True(treated >= left - 2 * standardError,
            $"validation + test accuracy: restarted with the stable scale {treated:F4}, left alone {left:F4} (2 standard errors {2 * standardError:F4})");
    }

    [Fact]
    public async Task Run_PolicyStop_TrialStoppedWithTheVerdict()
    {
        var trial = Assert.Single(await RunAsync(Diverging.Replace(
            """diverged: {action: restart, from: last_healthy, change: [{trainable.optimizer.lr: "*0.1"}], max_restarts: 2}""",
            "diverged: {action: stop}"), exitCode: 1));

        Assert.Equal("stopped", trial.GetProperty("state").GetString());
        Assert.Equal("diverged", trial.GetProperty("final_verdict").GetString());
        Assert.StartsWith("stability: diverged at step 2", trial.GetProperty("reason").GetString());
        Assert.Single(trial.GetProperty("attempts").EnumerateArray());
    }

    [Fact]
    public async Task Run_MaxRestartsReached_StoppedSayingSo()
    {
        var trial = Assert.Single(await RunAsync(Diverging.Replace("*0.1", "*0.9"), exitCode: 1));

        Assert.Equal("stopped", trial.GetProperty("state").GetString());
        Assert.Equal(3, trial.GetProperty("attempts").GetArrayLength()); // the first run and two restarts
        Assert.Contains("max_restarts 2 for diverged is reached", trial.GetProperty("reason").GetString());
        var lrs = trial.GetProperty("attempts").EnumerateArray().Skip(1).Select(a => a.GetProperty("changes").GetProperty("trainable.optimizer.lr").GetDouble()).ToList();
        Assert.Equal(0.045, lrs[0], 12); // cumulative: 0.05 × 0.9, then × 0.9 again
        Assert.Equal(0.0405, lrs[1], 12);
    }
}
