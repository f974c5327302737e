using System.Text.Json;

namespace Sweeper.Cli.Tests;

/// <summary>End-to-end: the sweeper program on real specs, real Fashion-MNIST and real TorchSharp training.</summary>
public sealed class RunCommandTests : IDisposable
{
    private const string DatasetDir = "/usr/share/datasets/fashion-mnist";
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string TinySpec(string extra = "") => $"""
        name: tiny
        seed: 11
        objective: {"{"}metric: test_accuracy, mode: max{"}"}
        trainable:
          model: mobilenet_v1
          width: 0.25
          dataset: {"{"}name: fashion_mnist, path: {DatasetDir}, train_subset: 3000, test_subset: 500{"}"}
          epochs: 2
          batch_size: 32
          optimizer: {"{"}name: sgd, lr: 0.05, momentum: 0.9{"}"}
          lr_schedule: cosine
        parameters:
          trainable.optimizer.lr: {"{"}values: [0.02, 0.1]{"}"}
        resources: {"{"}max_concurrent_trials: 2{"}"}
        output: {"{"}dir: runs{"}"}
        {extra}
        """;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Run_TinySpec_TrainsEveryTrialAndWritesResults()
    {
        var spec = Write("tiny.yaml", TinySpec());

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(4), "run", spec);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var runDir = Assert.Single(Directory.GetDirectories(Path.Combine(_dir, "runs")));
        Assert.StartsWith("tiny-", Path.GetFileName(runDir));
        Assert.Equal(TinySpec(), File.ReadAllText(Path.Combine(runDir, "spec.yaml")));

        var csv = File.ReadAllLines(Path.Combine(runDir, "results.csv"));
        Assert.Equal("rank,trial,state,trainable.optimizer.lr,epochs,test_accuracy,test_loss,train_loss,duration_s,resumed_from,restarts,verdict,reason", csv[0]);
        Assert.Equal(3, csv.Length); // header + one row per trial
        Assert.All(csv.Skip(1), row => Assert.Contains(",completed,", row));

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        var trials = json.RootElement.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(["t0001", "t0002"], trials.Select(t => t.GetProperty("trial").GetString()));
        foreach (var t in trials)
        {
            Assert.Equal(2, t.GetProperty("epochs").GetArrayLength());
            // 3000 images (94 steps an epoch: enough for BatchNorm's running statistics), 2 epochs: far above the 0.10 of chance.
            Assert.InRange(t.GetProperty("objective").GetDouble(), 0.30, 0.99);
        }
        var summary = File.ReadAllText(Path.Combine(runDir, "summary.md"));
        Assert.Contains("| rank | trial | state |", summary);
        Assert.Contains("t0001", outcome.Stdout);
        Assert.Contains("t0002", outcome.Stdout);
        Assert.Contains("best:", outcome.Stdout);
    }

    [Fact]
    public async Task Run_MisspelledKey_Exit2NamesFileLineColumnKeyWritesNothing()
    {
        var spec = Write("typo.yaml", TinySpec().Replace("  batch_size: 32", "  batch_sise: 32"));

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "run", spec);

        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains($"{spec}:9:3: trainable.batch_sise: unknown key 'batch_sise'; did you mean 'batch_size'?", outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stderr); // no stack trace
        Assert.False(Directory.Exists(Path.Combine(_dir, "runs")));
    }

    [Fact]
    public async Task Validate_ValidAndInvalid_Exit0And2()
    {
        var good = Write("good.yaml", TinySpec());
        var bad = Write("bad.yaml", TinySpec().Replace("mode: max", "mode: maximum").Replace("epochs: 2", "epochs: -1"));

        var ok = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "validate", good);
        var fail = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "validate", bad);

        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Contains("2 trial(s)", ok.Stdout);
        Assert.Equal(2, fail.ExitCode);
        Assert.Contains($"{bad}:3:", fail.Stderr);
        Assert.Contains("objective.mode: unknown value 'maximum'; expected one of max, min", fail.Stderr);
        Assert.Contains($"{bad}:8:11: trainable.epochs: must be between 1 and 10000, found -1", fail.Stderr);
        Assert.Contains("2 problem(s)", fail.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "runs")));
    }

    [Fact]
    public async Task Run_MissingSpecFile_Exit2()
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "run", "nope.yaml");
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("nope.yaml:1:1: file not found", outcome.Stderr);
    }

    [Fact]
    public async Task Run_UnknownOption_NonZeroWithoutStackTrace()
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "run", "x.yaml", "--bogus");
        Assert.NotEqual(0, outcome.ExitCode);
        Assert.DoesNotContain("   at ", outcome.Stderr + outcome.Stdout);
    }
}
