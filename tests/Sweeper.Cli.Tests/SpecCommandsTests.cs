using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Sweeper.Cli.Tests;

/// <summary>validate, plan and an ASHA-against-FIFO run, through the real program.</summary>
public sealed partial class SpecCommandsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-spec-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Grid(long seed, string algorithm = "grid", string extra = "") => $"""
        name: grid
        seed: {seed}
        objective: {"{"}metric: test_accuracy, mode: max{"}"}
        trainable: {"{"}model: synthetic, epochs: 3{"}"}
        parameters:
          trainable.optimizer.lr: {"{"}values: [0.01, 0.1, 0.3]{"}"}
          trainable.width: {"{"}values: [0.25, 0.5]{"}"}
          {extra}
        search: {"{"}algorithm: {algorithm}, repeat: 2{(algorithm == "grid" ? "" : ", num_samples: 6")}{"}"}
        """;

    [Fact]
    public async Task Version_PrintsTheProgramsVersion()
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "--version");

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+(\+[0-9a-f]+)?\s*$", outcome.Stdout);
        Assert.StartsWith(typeof(Sweeper.Cli.Program).Assembly.GetName().Version!.ToString(3), outcome.Stdout);
    }

    [Fact]
    public async Task Validate_EnvironmentReference_UnsetIsExit2AtLineAndColumn_SetIsValid()
    {
        var spec = Write("env.yaml", """
            name: env
            objective: {metric: test_accuracy}
            trainable:
              model: synthetic
              epochs: 2
              optimizer: {lr: "${env:SWEEPER_TEST_LR}"}
            """);

        var unset = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "validate", spec);
        using var set = SweeperProcess.Start(_dir, new Dictionary<string, string> { ["SWEEPER_TEST_LR"] = "0.3" }, "validate", spec);
        var setExit = await set.WaitForExitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(2, unset.ExitCode);
        Assert.Contains("env.yaml:6:19: trainable.optimizer.lr: environment variable SWEEPER_TEST_LR is not set", unset.Stderr);
        Assert.DoesNotContain("expected a number", unset.Stderr); // reported once, at its place
        Assert.True(setExit == 0, set.Output);
    }

    [GeneratedRegex(@"^\s*t\d{4}\s", RegexOptions.Multiline)]
    private static partial Regex TrialRow();

    [Fact]
    public async Task Plan_Grid3x2Repeat2_TwelveTrialsSameForSameSeed()
    {
        var a = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "plan", Write("a.yaml", Grid(1)));
        var b = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "plan", Write("b.yaml", Grid(1)));
        var c = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "plan", Write("c.yaml", Grid(2)));

        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.Equal(12, TrialRow().Matches(a.Stdout).Count);
        Assert.Contains("12 of 12 trial(s) shown", a.Stdout);
        Assert.Equal(a.Stdout, b.Stdout);
        Assert.NotEqual(a.Stdout, c.Stdout); // the seeds differ
    }

    [Theory]
    [InlineData("random")]
    [InlineData("tpe")]
    public async Task Plan_SampledSearch_DeterministicForASeedDifferentForAnother(string algorithm)
    {
        var extra = "trainable.optimizer.momentum: {uniform: [0.5, 0.99]}";
        var a = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "plan", Write("a.yaml", Grid(1, algorithm, extra)));
        var b = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "plan", Write("b.yaml", Grid(1, algorithm, extra)));
        var c = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "plan", Write("c.yaml", Grid(9, algorithm, extra)));

        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.Equal(12, TrialRow().Matches(a.Stdout).Count);
        Assert.Equal(a.Stdout, b.Stdout);
        Assert.NotEqual(a.Stdout, c.Stdout);
    }

    [Fact]
    public async Task Validate_CorpusFile_SameErrorsAsTheLoader()
    {
        var corpus = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Sweeper.Core.Tests", "Spec", "Corpus");
        var expected = File.ReadAllLines(Path.Combine(corpus, "expected.txt")).Where(l => l.StartsWith("25-several-at-once.yaml:", StringComparison.Ordinal)).ToList();
        var copy = Write("25-several-at-once.yaml", File.ReadAllText(Path.Combine(corpus, "25-several-at-once.yaml")));

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "validate", "25-several-at-once.yaml");

        Assert.Equal(2, outcome.ExitCode);
        Assert.Equal(expected.Select(e => "error: " + e), outcome.Stderr.Split('\n').Where(l => l.StartsWith("error: 25", StringComparison.Ordinal)));
        Assert.True(File.Exists(copy));
    }

    [Fact]
    public async Task Validate_TestMetricObjective_ValidWithALocatedWarning_ValidationMetricWithoutSplit_Exit2()
    {
        Write("test-metric.yaml", Grid(1));
        Write("val-no-split.yaml", """
            name: v
            objective: {metric: val_accuracy, mode: max}
            trainable: {model: mobilenet_v1, epochs: 1, dataset: {path: .}}
            """);

        var warned = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "validate", "test-metric.yaml");
        var refused = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "validate", "val-no-split.yaml");

        Assert.True(warned.ExitCode == 0, warned.ToString());
        Assert.Contains("warning: test-metric.yaml:3:21: objective.metric: selecting, pruning and searching on 'test_accuracy' leaks the test set", warned.Stderr);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("error: val-no-split.yaml:2:21: objective.metric: 'val_accuracy' needs a validation split", refused.Stderr);
        Assert.DoesNotContain("   at ", refused.Stderr); // no stack trace
    }

    [Fact]
    public async Task Run_AshaAgainstFifo_AshaStopsTrialsEarlyAndRunsFewerEpochs()
    {
        string Spec(string scheduler) => $"""
            name: {scheduler}
            seed: 4
            objective: {"{"}metric: test_accuracy, mode: max{"}"}
            trainable: {"{"}model: synthetic, epochs: 9{"}"}
            parameters:
              trainable.optimizer.lr: {"{"}log_uniform: [0.0005, 1.0]{"}"}
              trainable.width: {"{"}values: [0.25, 0.5, 1.0]{"}"}
            search: {"{"}algorithm: random, num_samples: 27{"}"}
            scheduler: {"{"}name: {scheduler}, grace_period: 1, reduction_factor: 3{"}"}
            resources: {"{"}max_concurrent_trials: 3{"}"}
            checkpoint: {"{"}interval_epochs: 0{"}"}
            """;
        var asha = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "run", Write("asha.yaml", Spec("asha")));
        var fifo = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "run", Write("fifo.yaml", Spec("fifo")));
        Assert.True(asha.ExitCode == 0, asha.ToString());
        Assert.True(fifo.ExitCode == 0, fifo.ToString());

        JsonElement Results(string name)
        {
            var dir = Directory.GetDirectories(Path.Combine(_dir, "runs"), name + "-*").Single();
            return JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json"))).RootElement.Clone();
        }
        var a = Results("asha");
        var f = Results("fifo");
        int ashaEpochs = a.GetProperty("epochs_run").GetInt32(), fifoEpochs = f.GetProperty("epochs_run").GetInt32();
        output.WriteLine($"epochs run: ASHA {ashaEpochs}, FIFO {fifoEpochs} of {f.GetProperty("epochs_planned").GetInt32()} ({(double)ashaEpochs / fifoEpochs:P0})");
        Assert.Equal(27 * 9, fifoEpochs);
        Assert.True(ashaEpochs < fifoEpochs / 2, $"ASHA ran {ashaEpochs} epochs, FIFO {fifoEpochs}");
        var stopped = a.GetProperty("trials").EnumerateArray().Where(t => t.GetProperty("state").GetString() == "stopped").ToList();
        Assert.NotEmpty(stopped);
        Assert.All(stopped, t => Assert.StartsWith("asha: ", t.GetProperty("reason").GetString()));
        Assert.All(stopped, t => Assert.True(t.GetProperty("rung").GetInt32() >= 0));
        Assert.Contains("stopped early", asha.Stdout);
        Assert.Contains("rung ", asha.Stdout); // the table shows the rung and the reason
        // The best trial of ASHA is as good as FIFO's within the noise: early stopping kept the good ones.
        Assert.True(a.GetProperty("trials").EnumerateArray().Max(t => t.GetProperty("objective").ValueKind == JsonValueKind.Number ? t.GetProperty("objective").GetDouble() : 0)
                    >= f.GetProperty("trials").EnumerateArray().Max(t => t.GetProperty("objective").GetDouble()) - 0.02);
    }

    [Theory]
    [InlineData("stop: {target: 0.85}", "target test_accuracy >= 0.85 reached by")]
    [InlineData("stop: {max_minutes: 0.05}", "time budget of 0.05 min used up")]
    [InlineData("stop: {max_trials: 3}", null)]
    public async Task Run_SweepLevelStop_EndsEarlyAndSaysWhy(string stop, string? reason)
    {
        var spec = Write("stop.yaml", $$$"""
            name: stop
            seed: 1
            objective: {metric: test_accuracy, mode: max}
            trainable: {model: synthetic, epochs: 4, synthetic: {epoch_seconds: 0.25}}
            parameters:
              trainable.optimizer.lr: {log_uniform: [0.01, 0.3]}
            search: {algorithm: random, num_samples: 40}
            resources: {max_concurrent_trials: 2}
            {{{stop}}}
            """);

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "run", spec);

        var runDir = Directory.GetDirectories(Path.Combine(_dir, "runs"), "stop-*").Single();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        var trials = doc.RootElement.GetProperty("trials").EnumerateArray().ToList();
        Assert.True(trials.Count < 40, $"{trials.Count} trials started");
        if (reason is null)
        {
            Assert.True(outcome.ExitCode == 0, outcome.ToString());
            Assert.Equal(3, trials.Count);
            Assert.All(trials, t => Assert.Equal("completed", t.GetProperty("state").GetString()));
        }
        else
        {
            Assert.Contains(trials, t => t.GetProperty("state").GetString() == "stopped" && t.GetProperty("reason").GetString()!.StartsWith(reason, StringComparison.Ordinal)
                                          || reason.StartsWith("target", StringComparison.Ordinal) && t.GetProperty("state").GetString() == "completed");
            Assert.Contains(reason, outcome.Stdout + File.ReadAllText(Path.Combine(runDir, "results.csv")) + string.Join(" ", trials.Select(t => t.GetProperty("reason").ToString())));
        }
    }
}
