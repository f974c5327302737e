using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training.Data;
using Sweeper.Training.Plugins;
using Sweeper.Training.Quantized;
using Sweeper.Training.Trainables;
using Sweeper.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

using Sweeper.Tests.Shared;

namespace Sweeper.Training.Tests.Plugins;

/// <summary>
/// samples/TinyResNet, built by <c>dotnet build</c> (<see cref="SamplePlugin"/>), loaded as a plug-in and trained for one
/// epoch on a few Fashion-MNIST images with msqe_po2 at 4 bits, like a built-in model: per-layer exponents, step
/// reports, checkpoints and the export.
/// </summary>
public sealed class TinyResNetPluginTests
{
    public TinyResNetPluginTests() => torch.set_num_threads(1);

    private static TrialConfig Config(string bnFold = BnFoldRecipe.QKeras) => new()
    {
        Id = new TrialId(1),
        Seed = 5,
        Parameters = [],
        Trainable = new TrainableSpec
        {
            Model = SamplePlugin.Type,
            Plugin = new ModelPluginSpec(SamplePlugin.AssemblyPath, SamplePlugin.Type),
            Args = new TrainableArgs([new("depth", 2L), new("channels", 4L)]),
            Dataset = new DatasetSpec { Path = FashionMnist.DefaultPath, TrainSubset = 64, TestSubset = 40 },
            Epochs = 1,
            BatchSize = 32,
            Optimizer = new OptimizerSpec { Name = "sgd", Lr = 0.05, Momentum = 0.9 },
            Quantizer = new QuantizerSpec { Method = "msqe_po2", Bits = 4, BnFold = bnFold },
        },
    };

    private static readonly string[] BodyLayers = ["blocks.0.body.0", "blocks.0.body.3", "blocks.1.body.0", "blocks.1.body.3", "blocks.1.shortcut.0"];

    [Fact]
    public void Sample_Check_Passes()
    {
        Assert.Null(PluginLoader.Check(new ModelPluginSpec(SamplePlugin.AssemblyPath, SamplePlugin.Type)));
        Assert.Equal(PluginKind.Model, PluginLoader.KindOf(new ModelPluginSpec(SamplePlugin.AssemblyPath, SamplePlugin.Type)));
        // The plug-in's output holds its own assembly only: Sweeper and TorchSharp come from the host.
        var output = Path.GetDirectoryName(SamplePlugin.AssemblyPath)!;
        Assert.Equal(["TinyResNet.dll"], Directory.GetFiles(output, "*.dll").Select(Path.GetFileName));
    }

    [Fact]
    public void Sample_TrainedOneEpochWithMsqePo2_ReportsLayersCheckpointsAndExports()
    {
        using var dir = new TempDirectory();
        var config = Config();
        var context = new TrialContext(dir.File("t0001"), 1);
        using var trainable = Assert.IsType<TorchTrainable>(new PluginTrainableFactory().Create(config, context));
        var stepLayers = new List<string>();
        var stepExponents = new List<int>();
        trainable.StepCompleted = report =>
        {
            stepLayers.Clear();
            stepLayers.AddRange(report.Layers);
            stepExponents.Add(report.Exponents.Sum(e => e.Length));
        };

        var result = trainable.RunEpoch(1, CancellationToken.None);

        // Stem (first conv) and classifier (last Linear) stay in float; every Conv→BN pair is one folded layer.
        Assert.Equal(BodyLayers, trainable.QuantizedLayerNames);
        Assert.Equal(["stem.0", .. BodyLayers, "classifier"], trainable.Layers.Select(l => l.LayerName));
        Assert.All(trainable.Layers.Where(l => l.Quantizer is not null), l => Assert.True(l.FoldsBatchNorm, l.LayerName));
        Assert.True(double.IsFinite(result.Get(MetricNames.TrainLoss)));
        foreach (var layer in BodyLayers)
        {
            var exponent = result.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.ExponentMean));
            Assert.InRange(exponent, -40.0, 10.0);
            Assert.True(result.Metrics.ContainsKey(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.Flips)), layer);
        }
        Assert.Equal(BodyLayers, stepLayers);
        Assert.Equal(trainable.StepsPerEpoch, stepExponents.Count);
        Assert.All(stepExponents, n => Assert.Equal(4 + 4 + 8 + 8 + 8, n)); // one exponent per output channel

        var checkpoint = dir.File("epoch-0001.ckpt");
        trainable.SaveCheckpoint(checkpoint);
        using (var restored = new TorchTrainable(config))
        {
            restored.LoadCheckpoint(checkpoint);
            Assert.Equal(1, restored.CompletedEpochs);
            Assert.Equal(trainable.Evaluate().Accuracy, restored.Evaluate().Accuracy);
        }

        var export = QuantizedExport.FromJson(QuantizedExport.ToJson(QuantizedExport.FromCheckpoint(checkpoint, config.Trainable)));
        Assert.Equal(SamplePlugin.Type, export.Model);
        Assert.Equal(28, export.InputSize);
        Assert.Equal(BodyLayers, export.Layers.Select(l => l.Name));
        Assert.Equal(["stem.0", "classifier"], export.FloatLayers);
        foreach (var layer in export.Layers)
        {
            using var scope = torch.NewDisposeScope();
            var live = trainable.Layers.Single(l => l.LayerName == layer.Name);
            Assert.Equal("conv2d", layer.Kind);
            Assert.True(layer.BnFolded);
            Assert.Equal(layer.Name.EndsWith("shortcut.0") ? 0 : 1, layer.Padding);
            Assert.All(layer.Codes, c => Assert.InRange(c, -7, 7));
            Assert.Equal(live.EvalWeight().reshape(-1).data<float>().ToArray(), layer.Dequantize());
        }

        // A plug-in built with other args has other shapes: the export says the checkpoint does not fit.
        var wider = config.Trainable with { Args = config.Trainable.Args.With("channels", 8L) };
        var e = Assert.Throws<InvalidDataException>(() => QuantizedExport.FromCheckpoint(checkpoint, wider));
        Assert.Contains($"does not fit the model {SamplePlugin.Type} of these settings", e.Message);
    }

    [Fact]
    public void Sample_SameSeed_SameWeights()
    {
        static float[] Weights()
        {
            using var init = new Generator(9);
            using var model = ModelFactory.Create(Config().Trainable, 1, 28, 10, init);
            return model.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();
        }

        torch.manual_seed(1);
        var first = Weights();
        torch.manual_seed(2);
        Assert.Equal(first, Weights());
    }

    [Fact]
    public void Sample_SameSeedTrainedThreeTimes_SameGradientsAtEveryStep()
    {
        // 8 channels, 3×3: libtorch 2.10's oneDNN computed this model's gradients from uninitialized memory (NaN at a
        // different step in about half the runs, on an AVX-512 CPU) until Sweeper's layers routed such convolutions around
        // it (SafeConvolution). A trial is a function of its seed: every step's loss and gradient norm repeat exactly.
        var config = Config(BnFoldRecipe.PyTorch);
        config = config with
        {
            Trainable = config.Trainable with
            {
                Args = config.Trainable.Args.With("channels", 8L),
                Dataset = config.Trainable.Dataset with { TrainSubset = 640 },
                BatchSize = 64,
            },
        };
        List<(float Loss, float GradientNorm)>? first = null;
        for (int run = 0; run < 3; run++)
        {
            using var dir = new TempDirectory();
            using var trainable = Assert.IsType<TorchTrainable>(new PluginTrainableFactory().Create(config, new TrialContext(dir.File("t0001"), 1)));
            var steps = new List<(float, float)>();
            trainable.StepCompleted = report => steps.Add(((float)report.Loss, (float)report.GradientNorm));
            trainable.RunEpoch(1, CancellationToken.None);

            Assert.Equal(10, steps.Count);
            Assert.All(steps, s => Assert.True(float.IsFinite(s.Item1) && float.IsFinite(s.Item2), $"run {run}: {s}"));
            if (first is null) first = steps;
            else Assert.Equal(first, steps);
        }
    }
}
