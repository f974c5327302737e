using Sweeper.Core.Spec;
using Sweeper.Quantization.Training;
using Sweeper.Training.Models;
using Sweeper.Training.Quantized;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Quantized;

public sealed class QuantizedLayersTests
{
    public QuantizedLayersTests() => torch.set_num_threads(1);

    private static QuantizationPlan Plan(string method, bool firstLast = false, string bnFold = BnFoldRecipe.None, bool perChannel = true, int bits = 4,
        bool depthwisePerChannel = true) =>
        new(new QuantizerSpec
        {
            Method = method, Bits = bits, QuantizeFirstLast = firstLast, BnFold = bnFold, PerChannel = perChannel,
            DepthwisePerChannel = depthwisePerChannel,
        });

    private static nn.Module<Tensor, Tensor> Model(string model, QuantizationPlan? plan, int seed = 5)
    {
        using var g = new Generator((ulong)seed);
        return model == "mobilenet_v1" ? new MobileNetV1(0.25, generator: g, plan: plan) : new MobileNetV2(0.25, generator: g, plan: plan);
    }

    [Theory]
    [InlineData("mobilenet_v1")]
    [InlineData("mobilenet_v2")]
    public void Forward_MethodNone_EqualsTheFloatModelBitwise(string name)
    {
        using var reference = Model(name, plan: null);
        using var none = Model(name, Plan("none", firstLast: true));
        using var scope = torch.NewDisposeScope();
        var x = torch.randn([4, 1, 28, 28], generator: new Generator(1));

        Assert.All(((IQuantizableModel)none).Layers, l => Assert.Null(l.Quantizer));
        Assert.True(reference.forward(x).eq(none.forward(x)).all().item<bool>());   // training mode (batch statistics)
        reference.eval();
        none.eval();
        Assert.True(reference.forward(x).eq(none.forward(x)).all().item<bool>());   // eval mode (running statistics)
    }

    [Theory]
    [InlineData("legacy_auto_po2", 0.1, 1.1)] // its clipping of the largest weights dominates at 8 bits (about 8 %)
    [InlineData("msqe_po2", 0.06, 3)]
    [InlineData("learnable_po2", 0.06, 3)]
    [InlineData("lsq", 0.06, 3)]
    public void Forward_EightBits_LayersComputeWithWeightsCloserToFloatThanAtFourBits(string method, double maxError8, double minRatio)
    {
        // Per layer, not at the logits: an untrained deep BN network is chaotic (0.1 % weight noise moves its logits by
        // about 10 %). The errors are those the methods define: legacy_auto_po2 rounds its start exponent to nearest and
        // may clip the largest weights; LSQ starts from a step of 2·mean|w|/√qp; msqe_po2 without its outlier mask.
        double MeanError(int bits, out double worst)
        {
            var spec = new QuantizerSpec { Method = method, Bits = bits, OutlierMask = false };
            using var model = Model("mobilenet_v2", new QuantizationPlan(spec));
            using var scope = torch.NewDisposeScope();
            model.forward(torch.randn([4, 1, 28, 28], generator: new Generator(2))); // one training step sets the scales
            var errors = new List<double>();
            foreach (var layer in ((IQuantizableModel)model).Layers.Where(l => l.Quantizer is not null))
            {
                var w = layer.EffectiveWeight();
                var q = layer.EvalWeight();
                errors.Add((q - w).norm().item<float>() / w.norm().item<float>());
            }
            worst = errors.Max();
            return errors.Average();
        }

        var error8 = MeanError(8, out var worst8);
        var error4 = MeanError(4, out _);

        Assert.True(error8 > 0 && error8 < maxError8 && worst8 < 0.2 && error4 > minRatio * error8, $"{method}: mean relative weight error {error8:G3} at 8 bits (worst layer {worst8:G3}), {error4:G3} at 4 bits");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Plan_QuantizeFirstLast_DecidesWhetherStemAndClassifierStayFloat(bool firstLast)
    {
        foreach (var name in new[] { "mobilenet_v1", "mobilenet_v2" })
        {
            using var model = Model(name, Plan("lsq", firstLast: firstLast));
            var layers = ((IQuantizableModel)model).Layers;

            Assert.Equal(firstLast, layers.Single(l => l.LayerName == "stem").Quantizer is not null);
            Assert.Equal(firstLast, layers.Single(l => l.LayerName == "classifier").Quantizer is not null);
            Assert.All(layers.Where(l => l.Role == LayerRole.Body), l => Assert.IsType<LsqQuantizer>(l.Quantizer));
        }
    }

    [Theory]
    [InlineData("legacy_auto_po2", typeof(LegacyAutoPo2Quantizer))]
    [InlineData("msqe_po2", typeof(MsqePo2Quantizer))]
    [InlineData("learnable_po2", typeof(LearnablePo2Quantizer))]
    [InlineData("lsq", typeof(LsqQuantizer))]
    public void Plan_Method_QuantizerPerOutputChannelOrPerTensor(string method, Type type)
    {
        using var perChannel = Model("mobilenet_v2", Plan(method, bits: 3));
        using var perTensor = Model("mobilenet_v2", Plan(method, perChannel: false));

        var layer = ((IQuantizableModel)perChannel).Layers.Single(l => l.LayerName == "features.1.expand");
        Assert.IsType(type, layer.Quantizer);
        Assert.Equal(0, layer.Quantizer!.ChannelAxis);
        Assert.Equal(layer.WeightShape[0], layer.Quantizer.Channels);
        Assert.Equal(3, layer.Quantizer.Bits);
        Assert.All(((IQuantizableModel)perTensor).Layers.Where(l => l.Quantizer is not null), l => Assert.Null(l.Quantizer!.ChannelAxis));
    }

    [Theory]
    [InlineData("mobilenet_v1", false)]
    [InlineData("mobilenet_v1", true)]
    [InlineData("mobilenet_v2", false)]
    [InlineData("mobilenet_v2", true)]
    public void Plan_DepthwisePerChannel_DecidesDepthwiseScalesOnly(string name, bool depthwisePerChannel)
    {
        using var model = Model(name, Plan("msqe_po2", firstLast: true, depthwisePerChannel: depthwisePerChannel));
        var convs = ((IQuantizableModel)model).Layers.OfType<ConvBn>().ToList();
        var depthwise = convs.Where(c => c.IsDepthwise).ToList();

        Assert.Equal(name == "mobilenet_v1" ? 13 : 17, depthwise.Count);
        Assert.All(depthwise, c => Assert.EndsWith(".dw", c.LayerName));
        Assert.All(depthwise, c => Assert.Equal(depthwisePerChannel ? c.WeightShape[0] : 1, c.Quantizer!.Channels));
        Assert.All(depthwise, c => Assert.Equal(depthwisePerChannel ? 0 : null, c.Quantizer!.ChannelAxis));
        Assert.All(convs.Where(c => !c.IsDepthwise), c => Assert.Equal(c.WeightShape[0], c.Quantizer!.Channels)); // stem, pointwise, head
        var classifier = ((IQuantizableModel)model).Layers.Single(l => l.LayerName == "classifier");
        Assert.Equal(classifier.WeightShape[0], classifier.Quantizer!.Channels);
    }

    [Fact]
    public void Plan_DepthwisePerChannelFalseWithoutPerChannel_EveryLayerPerTensor()
    {
        using var model = Model("mobilenet_v1", Plan("lsq", perChannel: false, depthwisePerChannel: false));

        Assert.All(((IQuantizableModel)model).Layers.Where(l => l.Quantizer is not null), l => Assert.Equal(1, l.Quantizer!.Channels));
    }

    [Fact]
    public void Plan_UnknownBnFoldRecipe_ThrowsListingValidNames()
    {
        var e = Assert.Throws<ArgumentException>(() => new QuantizationPlan(new QuantizerSpec { Method = "msqe_po2", BnFold = "true" }));

        Assert.Contains("'true'", e.Message);
        Assert.Contains("none, qkeras, pytorch", e.Message);
    }

    [Fact]
    public void Plan_UnknownMethodOrRounding_ThrowsListingValidNames()
    {
        var method = Assert.Throws<ArgumentException>(() => new QuantizationPlan(new QuantizerSpec { Method = "apot" }));
        var rounding = Assert.Throws<ArgumentException>(() => new QuantizationPlan(new QuantizerSpec { Method = "learnable_po2", Rounding = "floor" }));

        Assert.Contains("msqe_po2", method.Message);
        Assert.Contains("msqe_round", rounding.Message);
    }

    [Theory]
    [InlineData(null, 1)] // default: freeze once epoch 1 has been trained
    [InlineData(3, 3)]
    public void StableFromEpoch_DefaultsToOne(int? epoch, int expected)
    {
        Assert.Equal(expected, QuantizationPlan.StableFromEpoch(new QuantizerSpec { StableFromEpoch = epoch }));
    }

    [Theory]
    [InlineData(BnFoldRecipe.PyTorch, 1e-5, 0.1)]
    [InlineData(BnFoldRecipe.QKeras, 1e-3, 0.01)]
    public void ConvBn_BnFoldWithoutQuantizer_EqualsConvThenBatchNorm(string recipe, double eps, double momentum)
    {
        // Same weights in a plain layer and a folding one; several training steps move the running statistics and γ away
        // from their initial 1/0 so that the fold is not trivial. The plain layer's BN gets the recipe's ε and momentum:
        // its running statistics are PyTorch's own (unbiased variance).
        using var plain = new ConvBn(8, 16, kernelSize: 3, stride: 2, activation: Activation.ReLU6);
        using var folded = new ConvBn(8, 16, kernelSize: 3, stride: 2, activation: Activation.ReLU6, plan: Plan("none", bnFold: recipe));
        Assert.True(folded.FoldsBatchNorm);
        Assert.Equal(eps, folded.BatchNorm.eps);
        Assert.Equal(momentum, folded.BatchNorm.momentum);
        plain.BatchNorm.eps = eps;
        plain.BatchNorm.momentum = momentum;
        using var scope = torch.NewDisposeScope();
        var g = new Generator(3);
        using (torch.no_grad())
        {
            var w = torch.randn([16, 8, 3, 3], generator: g) * 0.2;
            plain.Weight.copy_(w);
            folded.Weight.copy_(w);
            var gamma = torch.rand([16], generator: g) + 0.5;
            plain.BatchNorm.weight.copy_(gamma);
            folded.BatchNorm.weight.copy_(gamma);
        }

        for (int step = 0; step < 3; step++)
        {
            var x = torch.randn([6, 8, 12, 12], generator: g) * 2 + 1;
            var yPlain = plain.forward(x);
            var yFolded = folded.forward(x);
            TensorAssert.Close(yPlain, yFolded, 1e-5);
            yPlain.square().sum().backward();
            yFolded.square().sum().backward();
        }

        TensorAssert.Close(plain.BatchNorm.running_mean!, folded.BatchNorm.running_mean!, 1e-5);
        TensorAssert.Close(plain.BatchNorm.running_var!, folded.BatchNorm.running_var!, 1e-5);
        Assert.Equal(3, folded.BatchNorm.num_batches_tracked!.item<long>());
        TensorAssert.Close(plain.Weight.grad!, folded.Weight.grad!, 1e-4);
        TensorAssert.Close(plain.BatchNorm.weight.grad!, folded.BatchNorm.weight.grad!, 1e-4);
        plain.eval();
        folded.eval();
        var test = torch.randn([4, 8, 12, 12], generator: g);
        TensorAssert.Close(plain.forward(test), folded.forward(test), 1e-5);
    }

    [Theory]
    [InlineData(BnFoldRecipe.PyTorch)]
    [InlineData(BnFoldRecipe.QKeras)]
    public void ConvBn_BnFoldEval_IsTheAcceleratorsFoldedQuantizedConvolution(string recipe)
    {
        using var layer = new ConvBn(4, 8, kernelSize: 3, activation: Activation.None, plan: Plan("msqe_po2", bnFold: recipe));
        using var scope = torch.NewDisposeScope();
        var g = new Generator(4);
        using (torch.no_grad())
        {
            layer.Weight.copy_(torch.randn([8, 4, 3, 3], generator: g) * 0.3);
            layer.BatchNorm.weight.copy_(torch.rand([8], generator: g) + 0.5);
            layer.BatchNorm.bias!.copy_(torch.randn([8], generator: g));
        }
        for (int i = 0; i < 4; i++) layer.forward(torch.randn([8, 4, 10, 10], generator: g) * 3 - 1); // running statistics, exponents
        layer.eval();

        var bn = layer.BatchNorm;
        var scale = bn.weight / (bn.running_var! + bn.eps).sqrt();
        var folded = layer.Weight * scale.reshape(-1, 1, 1, 1);
        var quantized = layer.EvalWeight();
        var x = torch.randn([2, 4, 10, 10], generator: g);
        var accelerator = nn.functional.conv2d(x, quantized, bn.bias! - bn.running_mean! * scale, padding: [1, 1]);

        Assert.True(layer.EffectiveWeight().eq(folded).all().item<bool>());
        Assert.False(quantized.eq(folded).all().item<bool>()); // really quantized…
        var exponents = ((MsqePo2Quantizer)layer.Quantizer!).Exponents;
        var codes = quantized / torch.tensor(exponents.Select(e => (float)Math.ScaleB(1, (int)e)).ToArray()).reshape(-1, 1, 1, 1);
        Assert.True(codes.eq(codes.round()).all().item<bool>()); // …to integers times 2^e
        Assert.True(codes.abs().max().item<float>() <= 7);
        TensorAssert.Close(accelerator, layer.forward(x), 1e-5);
    }

    [Fact]
    public void CacheEvalWeights_EvalForward_BitwiseSameAsQuantizingPerBatch()
    {
        using var model = Model("mobilenet_v2", Plan("learnable_po2", bnFold: BnFoldRecipe.QKeras));
        using var scope = torch.NewDisposeScope();
        var x = torch.randn([4, 1, 28, 28], generator: new Generator(6));
        model.forward(x); // one training call initialises the quantizers
        model.eval();
        var layers = ((IQuantizableModel)model).Layers;

        var expected = model.forward(x);
        Tensor actual;
        using (QuantizableLayers.CacheEvalWeights(layers))
            actual = model.forward(x);

        Assert.True(expected.eq(actual).all().item<bool>());
        Assert.True(model.forward(x).eq(expected).all().item<bool>()); // the cache is gone
    }
}
