using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Quantization.Training;
using Sweeper.Training.Data;
using Sweeper.Training.Quantized;
using Sweeper.Training.Trainables;
using TorchSharp;
using Sweeper.Core.Model;

namespace Sweeper.Training.Tests.Trainables;

public sealed class QuantizedTrainableTests
{
    internal static TrialConfig Config(
        QuantizerSpec quantizer, long seed = 1, string model = "mobilenet_v2", double width = 0.25, int train = 256, int test = 100,
        int epochs = 1, int batch = 32, double lr = 0.05, int inputSize = 28, int inputChannels = 1) => new()
    {
        Id = new TrialId(0),
        Seed = seed,
        Parameters = [],
        Trainable = new TrainableSpec
        {
            Model = model,
            Width = width,
            Dataset = new DatasetSpec { Path = FashionMnist.DefaultPath, TrainSubset = train, TestSubset = test },
            Epochs = epochs,
            BatchSize = batch,
            Optimizer = new OptimizerSpec { Name = "sgd", Lr = lr, Momentum = 0.9, WeightDecay = 5e-5 },
            InputSize = inputSize,
            InputChannels = inputChannels,
            Quantizer = quantizer,
        },
    };

    private static QuantizerSpec Q(string method, int bits = 4) => new() { Method = method, Bits = bits };

    [Theory]
    [InlineData("legacy_auto_po2")]
    [InlineData("msqe_po2")]
    [InlineData("learnable_po2")]
    [InlineData("lsq")]
    public void RunEpoch_EveryMethod_TrainsWithoutNaNAndReportsSaneDiagnostics(string method)
    {
        using var trainable = new TorchTrainable(Config(Q(method), epochs: 2, train: 128));

        var first = trainable.RunEpoch(1, CancellationToken.None);
        var second = trainable.RunEpoch(2, CancellationToken.None);

        var names = trainable.QuantizedLayerNames;
        Assert.Equal(2 + 16 * 3 + 1, names.Count); // the blocks' convolutions and the head; stem and classifier stay float
        Assert.Contains("features.3.project", names);
        foreach (var result in new[] { first, second })
        {
            Assert.True(double.IsFinite(result.Get(MetricNames.TrainLoss)), $"{method}: train loss {result.Get(MetricNames.TrainLoss)}");
            Assert.True(double.IsFinite(result.Get(MetricNames.TestLoss)), $"{method}: test loss {result.Get(MetricNames.TestLoss)}");
            long sum = 0;
            foreach (var layer in names)
            {
                Assert.InRange(result.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.ClippedFraction)), 0.0, 1.0);
                Assert.InRange(result.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.OutlierFraction)), 0.0, 1.0);
                var msqe = result.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.Msqe));
                Assert.True(double.IsFinite(msqe) && msqe >= 0, $"{layer}: msqe {msqe}");
                Assert.InRange(result.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.ExponentMean)), -40.0, 10.0);
                var flips = result.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.Flips));
                Assert.True(flips >= 0 && flips == Math.Floor(flips), $"{layer}: flips {flips}");
                sum += (long)flips;
                Assert.InRange(result.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.ZeroFraction)), 0.0, 1.0);
                var inliers = result.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.InlierMsqe));
                Assert.True(inliers >= 0 && inliers <= msqe * (1 + 1e-12), $"{layer}: inlier msqe {inliers} > msqe {msqe}");
                // Second moments are on by default for the two quantizers that use them; learned scales are reported.
                Assert.Equal(method is "msqe_po2" or "learnable_po2", result.Metrics.ContainsKey(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.SecondMomentSpread)));
                Assert.Equal(method is "learnable_po2" or "lsq", result.Metrics.ContainsKey(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.Log2ScaleMean)));
            }
            Assert.Equal(sum, result.Get(MetricNames.Quant.FlipsTotal));
            Assert.InRange(result.Get(MetricNames.Quant.ClippedFraction), 0.0, 1.0);
            Assert.InRange(result.Get(MetricNames.Quant.ZeroFraction), 0.0, 1.0);
            Assert.InRange(result.Get(MetricNames.Quant.OutlierMsqeShare), 0.0, 1.0);
        }

        foreach (var layer in names)
            Assert.True(second.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.Flips)) >= first.Get(MetricNames.QuantLayer.Name(layer, MetricNames.QuantLayer.Flips)), $"{layer}: flips went down");
        Assert.Equal(first.Get(MetricNames.Quant.FlipsTotal), first.Get(MetricNames.Quant.FlipsEpoch));
        Assert.Equal(second.Get(MetricNames.Quant.FlipsTotal) - first.Get(MetricNames.Quant.FlipsTotal), second.Get(MetricNames.Quant.FlipsEpoch));
        if (method == "lsq")
            Assert.Equal(0, second.Get(MetricNames.Quant.FlipsTotal));
        else
            Assert.True(second.Get(MetricNames.Quant.FlipsTotal) > 0, $"{method}: no exponent ever changed in 8 steps");
    }

    [Fact]
    public void RunEpoch_Float_NoQuantizerMetrics()
    {
        using var trainable = new TorchTrainable(Config(Q("none"), model: "mobilenet_v1", train: 64));

        var result = trainable.RunEpoch(1, CancellationToken.None);

        Assert.Empty(trainable.QuantizedLayerNames);
        Assert.DoesNotContain(result.Metrics.Keys, k => k.StartsWith(MetricNames.Quant.Prefix, StringComparison.Ordinal));
    }

    [Fact]
    public void RunEpoch_PaddedColourInput_TrainsMobileNetV1()
    {
        using var trainable = new TorchTrainable(Config(Q("lsq"), model: "mobilenet_v1", train: 64, inputSize: 32, inputChannels: 3));

        var result = trainable.RunEpoch(1, CancellationToken.None);

        Assert.True(double.IsFinite(result.Get(MetricNames.TestLoss)));
        Assert.Equal(new long[] { 8, 3, 3, 3 }, trainable.Layers[0].WeightShape);
    }

    [Fact]
    public void StepCompleted_EveryStep_ReportsLossGradientNormAndExponents()
    {
        using var trainable = new TorchTrainable(Config(Q("msqe_po2"), train: 128, epochs: 2));
        var reports = new List<(StepReport Report, int[][] Exponents)>();
        trainable.StepCompleted = r => reports.Add((r, r.Exponents.Select(e => (int[])e.Clone()).ToArray()));

        trainable.RunEpoch(1, CancellationToken.None);
        trainable.StepCompleted = null;
        trainable.RunEpoch(2, CancellationToken.None);

        Assert.Equal(trainable.StepsPerEpoch, reports.Count);
        var quantizers = trainable.Layers.Where(l => l.Quantizer is not null).Select(l => (Po2WeightQuantizer)l.Quantizer!).ToList();
        for (int i = 0; i < reports.Count; i++)
        {
            var (r, exponents) = reports[i];
            Assert.Equal(1, r.Epoch);
            Assert.Equal(i, r.Step);
            Assert.True(double.IsFinite(r.Loss) && r.Loss > 0);
            Assert.True(double.IsFinite(r.GradientNorm) && r.GradientNorm > 0, $"step {i}: gradient norm {r.GradientNorm}");
            Assert.Equal(trainable.LearningRateAt(i), r.LearningRate);
            Assert.Same(trainable.QuantizedLayerNames, r.Layers);
            Assert.Equal(quantizers.Select(q => (int)q.Channels), exponents.Select(e => e.Length));
            Assert.All(exponents.SelectMany(e => e), e => Assert.InRange(e, -40, 10));
            if (i > 0) Assert.True(r.TotalFlips >= reports[i - 1].Report.TotalFlips);
        }
        // The report of a step holds that step's exponents; epoch 2 ran without a callback and changed them on.
        Assert.NotEqual(quantizers.Select(q => q.Exponents.Select(e => (int)e)).SelectMany(e => e), reports[^1].Exponents.SelectMany(e => e));
    }

    [Fact]
    public void StepCompleted_GradientNorm_IsTheGlobalL2NormOfAllGradients()
    {
        using var trainable = new TorchTrainable(Config(Q("learnable_po2"), train: 32, batch: 32));
        double reported = double.NaN, direct = double.NaN;
        trainable.StepCompleted = r =>
        {
            reported = r.GradientNorm;
            // The optimizer has stepped but the gradients are still those of the step.
            direct = Math.Sqrt(trainable.Model.parameters().Where(p => p.grad is not null).Sum(p => Math.Pow(p.grad!.norm().item<float>(), 2)));
        };

        trainable.RunEpoch(1, CancellationToken.None);

        Assert.Equal(direct, reported, direct * 1e-5);
    }

    [Theory]
    [InlineData("msqe_po2")]
    [InlineData("learnable_po2")]
    public void LoadCheckpoint_QuantizedThenNextEpoch_MatchesTheUninterruptedRun(string method)
    {
        // msqe_po2 with the stable scale: the EMA is tracked in epoch 1 and frozen at its end (the default), so epoch 2
        // depends on the restored EMA, stable exponents, frozen flag and step counter; with second moments it also depends
        // on their EMA. learnable_po2: on the log2 scales (and their momentum) and the second moments.
        var quantizer = new QuantizerSpec { Method = method, Bits = 4, SecondMoments = true, StableScale = method == "msqe_po2" };
        using var dir = new TempDirectory();
        var path = dir.File("epoch1.ckpt");
        var config = Config(quantizer, seed: 21, epochs: 2, train: 128, test: 100);

        using var uninterrupted = new TorchTrainable(config);
        uninterrupted.RunEpoch(1, CancellationToken.None);
        uninterrupted.SaveCheckpoint(path);
        var expected = uninterrupted.RunEpoch(2, CancellationToken.None);

        using var resumed = new TorchTrainable(config with { Seed = 22 });
        resumed.LoadCheckpoint(path);
        var flips = new List<long>();
        resumed.StepCompleted = r => flips.Add(r.TotalFlips); // reads only: must not change the run
        var actual = resumed.RunEpoch(2, CancellationToken.None);

        string[] timings = [MetricNames.SamplesPerSecond, MetricNames.TrainSeconds, MetricNames.EvalSeconds]; // wall-clock figures
        var keys = expected.Metrics.Keys.Where(k => !timings.Contains(k)).ToList();
        Assert.Contains(MetricNames.Quant.FlipsTotal, keys);
        Assert.All(keys, k => Assert.True(expected.Get(k) == actual.Get(k), $"{k}: uninterrupted {expected.Get(k)}, resumed {actual.Get(k)}"));
        Assert.Equal(expected.Metrics.Count, actual.Metrics.Count);
        if (method == "msqe_po2")
        {
            // Frozen at the end of epoch 1: the first step of epoch 2 may count the switch to the stable exponent, then none.
            Assert.All(flips, f => Assert.Equal(flips[0], f));
            Assert.All(resumed.Layers.Where(l => l.Quantizer is not null), l => Assert.True(((MsqePo2Quantizer)l.Quantizer!).IsFrozen));
        }
    }

    [Theory]
    [InlineData("msqe_po2", "qkeras")]
    [InlineData("learnable_po2", "pytorch")]
    [InlineData("legacy_auto_po2", "qkeras")]
    public void RunEpoch_SameSpecAndSeed_BitIdenticalMetricsIncludingDiagnostics(string method, string fold)
    {
        // What the study relies on: a trial is a pure function of its spec and seed on one machine (one intra-op thread,
        // seeded initialisation, seeded data order, a validation split from the sweep seed).
        var quantizer = new QuantizerSpec { Method = method, Bits = 4, BnFold = fold, StableScale = method == "msqe_po2", DepthwisePerChannel = false };
        var config = Config(quantizer, seed: 8, epochs: 2, train: 160, test: 60, model: "mobilenet_v1");
        config = config with { Trainable = config.Trainable with { Dataset = config.Trainable.Dataset with { Validation = 32, SplitSeed = 3 } } };
        string[] timings = [MetricNames.SamplesPerSecond, MetricNames.TrainSeconds, MetricNames.EvalSeconds];

        var runs = new List<IReadOnlyDictionary<string, double>>();
        for (int r = 0; r < 2; r++)
        {
            using var trainable = new TorchTrainable(config);
            trainable.RunEpoch(1, CancellationToken.None);
            runs.Add(trainable.RunEpoch(2, CancellationToken.None).Metrics);
        }

        var keys = runs[0].Keys.Where(k => !timings.Contains(k)).ToList();
        Assert.Contains(MetricNames.ValAccuracy, keys);
        Assert.Contains(MetricNames.Quant.FlipsTotal, keys);
        Assert.All(keys, k => Assert.True(runs[0][k].Equals(runs[1][k]), $"{k}: {runs[0][k]:R} then {runs[1][k]:R}"));
    }

    [Fact]
    public void RunEpoch_WithValidation_ReportsValidationMetricsDeterministically()
    {
        var config = Config(Q("none"), seed: 4, train: 160, test: 60, model: "mobilenet_v1");
        config = config with { Trainable = config.Trainable with { Dataset = config.Trainable.Dataset with { Validation = 40, SplitSeed = 9 } } };
        using var first = new TorchTrainable(config);
        using var again = new TorchTrainable(config);

        var a = first.RunEpoch(1, CancellationToken.None);
        var b = again.RunEpoch(1, CancellationToken.None);

        Assert.Equal(3, first.StepsPerEpoch); // 120 training images left, batches of 32
        Assert.InRange(a.Get(MetricNames.ValAccuracy), 0.0, 1.0);
        Assert.True(double.IsFinite(a.Get(MetricNames.ValLoss)));
        Assert.True(double.IsFinite(a.Get(MetricNames.TestAccuracy)));
        Assert.Equal(a.Get(MetricNames.ValLoss), b.Get(MetricNames.ValLoss));
        Assert.Equal(a.Get(MetricNames.TestLoss), b.Get(MetricNames.TestLoss));
        Assert.Equal(40, first.EvaluateValidation()!.Value.Samples);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void StableScale_FrozenAfterEpochN_AtRintOfTheMovingAverageOfEveryStepSeen(int freezeAfter)
    {
        // The moving average (decay 0.99, the first step copies) runs from the very first step; the freeze happens only
        // once epoch `freezeAfter` has been trained, at rint of that average: never at the initial exponent.
        var quantizer = new QuantizerSpec { Method = "msqe_po2", Bits = 4, StableScale = true, StableFromEpoch = freezeAfter };
        using var trainable = new TorchTrainable(Config(quantizer, seed: 3, epochs: 3, train: 96, batch: 32, model: "mobilenet_v1"));
        var layers = trainable.QuantizedLayerNames.Count;
        var ema = new double[layers][];
        var steps = 0;
        var frozenFlips = new List<long>();
        trainable.StepCompleted = r =>
        {
            if (r.Epoch > freezeAfter)
            {
                frozenFlips.Add(r.TotalFlips);
                return;
            }
            for (int l = 0; l < layers; l++)
            {
                var e = r.Exponents[l];
                if (steps == 0) ema[l] = e.Select(v => (double)v).ToArray();
                else for (int c = 0; c < e.Length; c++) ema[l][c] = 0.99 * ema[l][c] + 0.01 * e[c];
            }
            steps++;
        };
        var msqe = trainable.Layers.Where(l => l.Quantizer is not null).Select(l => (MsqePo2Quantizer)l.Quantizer!).ToList();

        for (int epoch = 1; epoch <= freezeAfter; epoch++)
        {
            Assert.All(msqe, q => Assert.False(q.IsFrozen));
            trainable.RunEpoch(epoch, CancellationToken.None);
        }

        Assert.Equal(freezeAfter * trainable.StepsPerEpoch, steps);
        for (int l = 0; l < layers; l++)
        {
            Assert.True(msqe[l].IsFrozen, $"layer {l} not frozen after epoch {freezeAfter}");
            var expected = ema[l].Select(v => (long)Math.Round(v, MidpointRounding.ToEven)).ToArray();
            Assert.Equal(expected, msqe[l].StableExponents);
            Assert.Equal(ema[l], msqe[l].StableEma, (a, b) => Math.Abs(a - b) <= 1e-9);
        }
        // Frozen: the next epoch's steps use the stable exponents; flips can only come at the first of them (the switch).
        trainable.RunEpoch(freezeAfter + 1, CancellationToken.None);
        Assert.All(frozenFlips, f => Assert.Equal(frozenFlips[0], f));
        Assert.All(msqe, q => Assert.Equal(q.StableExponents, q.Exponents));
    }

    [Theory]
    [InlineData("learnable_po2", "sgd")]
    [InlineData("lsq", "adam")]
    public void Optimizer_QuantizerScales_InTheirOwnGroupWithoutWeightDecay(string method, string optimizer)
    {
        using var dir = new TempDirectory();
        var path = dir.File("state.ckpt");
        var config = Config(Q(method), train: 32, model: "mobilenet_v1");
        config = config with { Trainable = config.Trainable with { Optimizer = config.Trainable.Optimizer with { Name = optimizer, Lr = 0.001 } } };
        using var trainable = new TorchTrainable(config);
        int scales = trainable.QuantizedLayerNames.Count; // one scale parameter per quantized layer
        int all = trainable.Model.parameters().Count();

        Assert.Equal([(5e-5, all - scales), (0.0, scales)], trainable.OptimizerGroups);
        trainable.RunEpoch(1, CancellationToken.None);
        trainable.SaveCheckpoint(path);
        trainable.LoadCheckpoint(path);
        Assert.Equal([(5e-5, all - scales), (0.0, scales)], trainable.OptimizerGroups);
    }

    [Fact]
    public void Optimizer_PowerOfTwoSearchOrFloat_OneGroup()
    {
        using var trainable = new TorchTrainable(Config(Q("msqe_po2"), train: 32, model: "mobilenet_v1"));

        Assert.Equal([(5e-5, trainable.Model.parameters().Count())], trainable.OptimizerGroups);
    }

    [Fact]
    public void LoadCheckpoint_OtherQuantizer_ThrowsInvalidDataNamingIt()
    {
        using var dir = new TempDirectory();
        var path = dir.File("msqe.ckpt");
        using (var saved = new TorchTrainable(Config(Q("msqe_po2"), train: 32, model: "mobilenet_v1")))
            saved.SaveCheckpoint(path);
        using var other = new TorchTrainable(Config(Q("lsq"), train: 32, model: "mobilenet_v1"));

        var e = Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(path));

        Assert.Contains("quantizer", e.Message);
        Assert.Contains("msqe_po2", e.Message);
    }

    [Theory]
    [InlineData(BnFoldRecipe.QKeras, BnFoldRecipe.PyTorch)]
    [InlineData(BnFoldRecipe.PyTorch, BnFoldRecipe.QKeras)]
    [InlineData(BnFoldRecipe.QKeras, BnFoldRecipe.None)]
    public void LoadCheckpoint_OtherBnFoldRecipe_ThrowsInvalidDataNamingBoth(string saved, string loaded)
    {
        using var dir = new TempDirectory();
        var path = dir.File("folded.ckpt");
        using (var trainable = new TorchTrainable(Config(Q("msqe_po2") with { BnFold = saved }, train: 32, model: "mobilenet_v1")))
            trainable.SaveCheckpoint(path);
        using var other = new TorchTrainable(Config(Q("msqe_po2") with { BnFold = loaded }, train: 32, model: "mobilenet_v1"));

        var e = Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(path));

        Assert.Contains($"is for quantizer msqe_po2 ", e.Message);
        Assert.Contains($"bn_fold={saved} ", e.Message);
        Assert.Contains($"bn_fold={loaded} ", e.Message);
    }

    [Fact]
    public void LoadCheckpoint_OtherDepthwisePerChannel_ThrowsInvalidDataNamingIt()
    {
        using var dir = new TempDirectory();
        var path = dir.File("dw.ckpt");
        using (var trainable = new TorchTrainable(Config(Q("lsq"), train: 32, model: "mobilenet_v1")))
            trainable.SaveCheckpoint(path);
        using var other = new TorchTrainable(Config(Q("lsq") with { DepthwisePerChannel = false }, train: 32, model: "mobilenet_v1"));

        var e = Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(path));

        Assert.Contains("depthwise_per_channel=True", e.Message);
        Assert.Contains("depthwise_per_channel=False", e.Message);
    }

    [Theory]
    [InlineData("msqe_po2", BnFoldRecipe.PyTorch)]
    [InlineData("msqe_po2", BnFoldRecipe.QKeras)]
    [InlineData("learnable_po2", BnFoldRecipe.None)]
    [InlineData("lsq", BnFoldRecipe.QKeras)]
    public void Export_FromCheckpoint_CodesTimesScaleEqualTheFakeQuantizedWeights(string method, string recipe)
    {
        bool bnFold = recipe != BnFoldRecipe.None;
        var quantizer = new QuantizerSpec { Method = method, Bits = 3, BnFold = recipe, QuantizeFirstLast = method == "lsq" };
        using var dir = new TempDirectory();
        var path = dir.File("trained.ckpt");
        var config = Config(quantizer, train: 96, model: "mobilenet_v1", lr: 0.1);
        using var trainable = new TorchTrainable(config);
        trainable.RunEpoch(1, CancellationToken.None);
        trainable.SaveCheckpoint(path);

        var json = QuantizedExport.ToJson(QuantizedExport.FromCheckpoint(path, config.Trainable));
        var export = QuantizedExport.FromJson(json);

        Assert.Equal(QuantizedExport.Format, export.Format);
        Assert.Equal(1, export.CompletedEpochs);
        Assert.Equal(trainable.QuantizedLayerNames, export.Layers.Select(l => l.Name));
        Assert.Equal(quantizer.QuantizeFirstLast ? Array.Empty<string>() : ["stem", "classifier"], export.FloatLayers);
        foreach (var layer in export.Layers)
        {
            var model = trainable.Layers.Single(l => l.LayerName == layer.Name);
            using var scope = torch.NewDisposeScope();
            var expected = model.EvalWeight().reshape(-1).data<float>().ToArray();
            Assert.Equal(model.WeightShape, layer.Shape);
            Assert.Equal(0, layer.ChannelAxis);
            Assert.All(layer.Codes, c => Assert.InRange(c, -3, 3));
            Assert.Equal(method == "lsq", layer.StepSizes is not null);
            Assert.Equal(method != "lsq", layer.Exponents is not null);
            Assert.Equal(layer.Shape[0], (layer.Exponents?.Length ?? layer.StepSizes!.Length));
            Assert.Equal(layer.Kind == "linear" || bnFold, layer.Bias is not null);
            Assert.Equal(!bnFold && layer.Kind == "conv2d", layer.BatchNorm is not null);
            Assert.Equal(expected, layer.Dequantize()); // exact, element by element
        }
    }
}
