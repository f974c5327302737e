using System.Text.Json;
using System.Text.Json.Nodes;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// End-to-end: <c>sweeper run configs/examples/plugin.yaml</c> sweeps the TinyResNet model plug-in (samples/TinyResNet,
/// built here once per test run) with msqe_po2 at 4 bits on Fashion-MNIST, and <c>sweeper export</c> reads its best trial.
/// </summary>
public sealed class PluginSweepTests : IDisposable
{
    private static readonly string[] BodyLayers = ["blocks.0.body.0", "blocks.0.body.3", "blocks.1.body.0", "blocks.1.body.3", "blocks.1.shortcut.0"];

    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-plugin-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Run_PluginExample_TrainsWithPerLayerExponentsAndExportsTheBestTrial()
    {
        _ = SamplePlugin.AssemblyPath; // built
        var spec = Repository.Path("configs", "examples", "plugin.yaml");
        var runs = Path.Combine(_dir, "runs");

        var run = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(6), "run", spec, "--output", runs);

        Assert.True(run.ExitCode == 0, run.ToString());
        var runDir = Assert.Single(Directory.GetDirectories(runs));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        var trials = json.RootElement.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(2, trials.Count);
        foreach (var trial in trials)
        {
            Assert.Equal("completed", trial.GetProperty("state").GetString());
            var metrics = trial.GetProperty("epochs").EnumerateArray().Last().GetProperty("metrics");
            foreach (var layer in BodyLayers)
            {
                var exponent = metrics.GetProperty($"quant.{layer}.exponent_mean").GetDouble();
                Assert.InRange(exponent, -40.0, 10.0);
                Assert.True(metrics.TryGetProperty($"quant.{layer}.flips", out _), layer);
            }
            Assert.False(metrics.TryGetProperty("quant.stem.0.exponent_mean", out _), "the stem stays in float");
            Assert.InRange(metrics.GetProperty("val_accuracy").GetDouble(), 0.0, 1.0);
        }

        // 5000 images, 2 epochs: the quantized plug-in learns (chance is 0.10; about 0.7 was seen).
        Assert.InRange(trials.Max(t => t.GetProperty("objective").GetDouble()), 0.4, 1.0);
        var best = trials.OrderByDescending(t => t.GetProperty("objective").GetDouble()).First().GetProperty("trial").GetString()!;
        var checkpoint = Directory.GetFiles(runDir, "epoch-0002.ckpt", SearchOption.AllDirectories).Single(p => p.Contains($"{Path.DirectorySeparatorChar}{best}{Path.DirectorySeparatorChar}"));
        var output = Path.Combine(_dir, "best.json");

        var export = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "export", checkpoint, "--output", output);

        Assert.True(export.ExitCode == 0, export.ToString());
        var exported = JsonNode.Parse(File.ReadAllText(output))!;
        Assert.Equal("TinyResNet.TinyResNetModel", (string?)exported["model"]);
        Assert.Equal("msqe_po2", (string?)exported["method"]);
        var layers = exported["layers"]!.AsArray();
        Assert.Equal(BodyLayers, layers.Select(l => (string)l!["name"]!));
        foreach (var layer in layers)
        {
            var shape = layer!["shape"]!.AsArray().Select(d => (long)d!).ToList();
            Assert.All(layer["codes"]!.AsArray().Select(c => (int)c!), c => Assert.InRange(c, -7, 7));
            Assert.Equal(shape[0], layer["exponents"]!.AsArray().Count);
            Assert.True((bool)layer["bn_folded"]!);
        }
        Assert.Equal(["stem.0", "classifier"], exported["float_layers"]!.AsArray().Select(n => (string)n!));
    }

    [Fact]
    public async Task ValidateAndRun_BadPluginSpecs_Exit2AtTheKeyWithNothingWritten()
    {
        var dll = SamplePlugin.AssemblyPath;
        string Spec(string name, string model)
        {
            var path = Path.Combine(_dir, name + ".yaml");
            File.WriteAllText(path, $$"""
                name: {{name}}
                objective: {metric: test_accuracy}
                trainable:
                  model: {{model}}
                  epochs: 1
                output: {dir: runs}
                """);
            return path;
        }

        var typo = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "validate", Spec("typo", $"{{assembly: {dll}, type: TinyResNet.TinyResNetModl}}"));
        var missing = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "run", Spec("missing", "{assembly: plugins/Nowhere.dll, type: My.Net}"));
        var notAModel = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "run", Spec("kind", $"{{assembly: {dll}, type: TinyResNet.ResidualBlock}}"));

        Assert.Equal(2, typo.ExitCode);
        Assert.Contains("typo.yaml:4:", typo.Stderr);
        Assert.Contains("trainable.model.type: no type 'TinyResNet.TinyResNetModl'", typo.Stderr);
        Assert.Contains("did you mean 'TinyResNet.TinyResNetModel'?", typo.Stderr);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains($"trainable.model.assembly: file '{Path.Combine(_dir, "plugins", "Nowhere.dll")}' does not exist", missing.Stderr);
        Assert.Equal(2, notAModel.ExitCode);
        Assert.Contains("trainable.model.type:", notAModel.Stderr);
        foreach (var outcome in new[] { typo, missing, notAModel }) Assert.DoesNotContain("   at ", outcome.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir, "runs")), "a refused spec writes nothing");
    }
}
