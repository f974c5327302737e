using System.Text.Json.Nodes;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;

namespace Sweeper.Cli.Tests;

/// <summary><c>sweeper export</c> on the checkpoint of a real 4-bit trial.</summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Export_QuantizedCheckpoint_IntegerCodesWithinTheBitsAndAnExponentPerChannel()
    {
        var spec = Path.Combine(_dir, "q.yaml");
        File.WriteAllText(spec, """
            name: q
            seed: 3
            objective: {metric: test_accuracy, mode: max}
            trainable:
              model: mobilenet_v1
              width: 0.25
              dataset: {name: fashion_mnist, path: /usr/share/datasets/fashion-mnist, train_subset: 640, test_subset: 200}
              epochs: 1
              batch_size: 64
              quantizer: {method: msqe_po2, bits: 4, per_channel: true}
            """);
        var run = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(3), "run", spec);
        Assert.True(run.ExitCode == 0, run.ToString());
        var checkpoint = Directory.GetFiles(Path.Combine(_dir, "runs"), "epoch-0001.ckpt", SearchOption.AllDirectories).Single();
        var output = Path.Combine(_dir, "t0001.json");

        var export = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "export", checkpoint, "--output", output);

        Assert.True(export.ExitCode == 0, export.ToString());
        var json = JsonNode.Parse(File.ReadAllText(output))!;
        Assert.Equal("msqe_po2", (string?)json["method"]);
        var layers = json["layers"]!.AsArray();
        Assert.NotEmpty(layers);
        foreach (var layer in layers)
        {
            Assert.Equal(4, (int)layer!["bits"]!);
            var codes = layer["codes"]!.AsArray().Select(c => (int)c!).ToList();
            var shape = layer["shape"]!.AsArray().Select(d => (long)d!).ToList();
            Assert.Equal(shape.Aggregate(1L, (a, b) => a * b), codes.Count);
            Assert.All(codes, c => Assert.InRange(c, -7, 7)); // signed symmetric 4-bit levels
            Assert.Equal(shape[0], layer["exponents"]!.AsArray().Count); // one power-of-two exponent per output channel
        }
    }

    [Fact]
    public async Task Export_NotACheckpoint_Exit2()
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "export", Path.Combine(_dir, "none.ckpt"));
        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("no such checkpoint", outcome.Stderr);
    }

    [Fact]
    public async Task Export_FileOutsideTheCheckpointLayout_Exit2NamesTheLayout()
    {
        var run = Directory.CreateDirectory(Path.Combine(_dir, "run")).FullName;
        var spec = new SweepSpec { Name = "x", Objective = new ObjectiveSpec(MetricNames.TestAccuracy, ObjectiveMode.Max), Trainable = new TrainableSpec { Dataset = new DatasetSpec() }, SourceText = "name: x\n" };
        using (SweepJournal.Create(run, spec, DateTimeOffset.UnixEpoch)) { }
        var stray = Path.Combine(run, "best.ckpt");
        File.WriteAllText(stray, "not in the layout");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "export", stray);

        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains("best.ckpt: not a trial's checkpoint (expected <checkpoint dir>/tNNNN/aNNNN/epoch-NNNN.ckpt)", outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stderr);
    }
}
