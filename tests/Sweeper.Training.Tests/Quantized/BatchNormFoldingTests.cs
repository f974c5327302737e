using Sweeper.Core.Spec;
using Sweeper.Quantization.Training;
using Sweeper.Training.Quantized;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Quantized;

/// <summary>
/// The two BN folding recipes of <see cref="ConvBn"/> against the formulas written out directly here (plain conv2d and
/// batch-statistics arithmetic, autograd for the gradients), on tiny tensors with fixed seeds. The quantizer is LSQ:
/// its first training call sets its step to 2·mean|w|/√qp per channel from the weight it sees, which makes that weight
/// observable, and with the step fixed it is a known function (s·clamp(round(w/s), −qp, qp), gradient 1 inside the
/// range, 0 outside).
/// </summary>
public sealed class BatchNormFoldingTests
{
    private const int Out = 4;
    private const int In = 3;
    private const int Bits = 4;
    private const int Qp = 7;

    public BatchNormFoldingTests() => torch.set_num_threads(1);

    /// <summary>The layer's tensors, copied out, and what the reference keeps across steps.</summary>
    private sealed class Reference
    {
        public required Tensor W;
        public required Tensor Gamma;
        public required Tensor Beta;
        public required Tensor RunningMean;
        public required Tensor RunningVar;
        public Tensor? Step; // LSQ step per channel, set by the first training step
        public required double Eps;
        public required double Momentum;
    }

    private static ConvBn Layer(string recipe, string method = "lsq") =>
        new(In, Out, kernelSize: 3, activation: Activation.None,
            plan: new QuantizationPlan(new QuantizerSpec { Method = method, Bits = Bits, BnFold = recipe }));

    /// <summary>Random W, γ, β and running statistics away from their initial values, the same in the layer and the reference.</summary>
    private static Reference Setup(ConvBn layer, Generator g)
    {
        using var noGrad = torch.no_grad();
        var w = torch.randn([Out, In, 3, 3], generator: g) * 0.3;
        var gamma = torch.rand([Out], generator: g) + 0.5;
        var beta = torch.randn([Out], generator: g) * 0.5;
        var mean = torch.randn([Out], generator: g);
        var variance = torch.rand([Out], generator: g) + 0.5;
        layer.Weight.copy_(w);
        layer.BatchNorm.weight.copy_(gamma);
        layer.BatchNorm.bias!.copy_(beta);
        layer.BatchNorm.running_mean!.copy_(mean);
        layer.BatchNorm.running_var!.copy_(variance);
        return new Reference
        {
            W = w.clone().DetachFromDisposeScope(), Gamma = gamma.clone().DetachFromDisposeScope(), Beta = beta.clone().DetachFromDisposeScope(),
            RunningMean = mean.clone().DetachFromDisposeScope(), RunningVar = variance.clone().DetachFromDisposeScope(),
            Eps = layer.BatchNorm.eps, Momentum = layer.BatchNorm.momentum!.Value,
        };
    }

    private static Tensor C(Tensor perChannel) => perChannel.reshape(1, -1, 1, 1);

    private static Tensor K(Tensor perChannel) => perChannel.reshape(-1, 1, 1, 1);

    /// <summary>LSQ with the reference's step: value s·clamp(round(w/s), −qp, qp), straight-through gradient inside the range.</summary>
    private static Tensor Lsq(Reference r, Tensor weightSeen)
    {
        if (r.Step is null)
        {
            using var noGrad = torch.no_grad();
            r.Step = (2 * weightSeen.detach().abs().mean([1, 2, 3]) / Math.Sqrt(Qp)).DetachFromDisposeScope();
        }
        var s = K(r.Step);
        var ratio = weightSeen.detach() / s;
        var value = ratio.round().clamp(-Qp, Qp) * s;
        var inside = ratio.ge(-Qp).logical_and(ratio.le(Qp)).to_type(ScalarType.Float32);
        return weightSeen * inside + (value - weightSeen * inside).detach();
    }

    private static (Tensor Mean, Tensor BiasedVar, Tensor UnbiasedVar) Moments(Tensor y)
    {
        long n = y.shape[0] * y.shape[2] * y.shape[3];
        var mean = y.mean([0, 2, 3]);
        var biased = (y - C(mean)).square().mean([0, 2, 3]);
        return (mean, biased, biased.detach() * n / (n - 1.0));
    }

    private static Tensor Conv(Tensor x, Tensor w) => nn.functional.conv2d(x, w, padding: [1, 1]);

    /// <summary>One training step of the recipe, written out; updates the reference's running statistics. Returns y and the weight the quantizer saw.</summary>
    private static (Tensor Y, Tensor Seen) ReferenceTrainingStep(string recipe, Reference r, Tensor x, Tensor w, Tensor gamma)
    {
        if (recipe == BnFoldRecipe.QKeras)
        {
            var (mean, variance, unbiased) = Moments(Conv(x, w));
            r.RunningMean = (r.RunningMean * (1 - r.Momentum) + mean.detach() * r.Momentum).DetachFromDisposeScope();
            r.RunningVar = (r.RunningVar * (1 - r.Momentum) + unbiased * r.Momentum).DetachFromDisposeScope();
            var runningStd = (r.RunningVar + r.Eps).sqrt();
            var seen = w * K(gamma / runningStd);
            var batchStd = (variance + r.Eps).sqrt();
            var y = Conv(x, Lsq(r, seen)) * C(runningStd / batchStd) + C(r.Beta - gamma * mean / batchStd);
            return (y, seen);
        }
        else
        {
            var scale = gamma / (r.RunningVar + r.Eps).sqrt(); // running statistics before this step's update
            var seen = w * K(scale);
            var z = Conv(x, Lsq(r, seen)) / C(scale);
            var (mean, variance, unbiased) = Moments(z);
            r.RunningMean = (r.RunningMean * (1 - r.Momentum) + mean.detach() * r.Momentum).DetachFromDisposeScope();
            r.RunningVar = (r.RunningVar * (1 - r.Momentum) + unbiased * r.Momentum).DetachFromDisposeScope();
            var y = C(gamma) * (z - C(mean)) / C((variance + r.Eps).sqrt()) + C(r.Beta);
            return (y, seen);
        }
    }

    [Theory]
    [InlineData(BnFoldRecipe.QKeras)]
    [InlineData(BnFoldRecipe.PyTorch)]
    public void ConvBn_TwoTrainingStepsThenEval_MatchTheRecipeWrittenOut(string recipe)
    {
        using var layer = Layer(recipe);
        using var scope = torch.NewDisposeScope();
        var g = new Generator(11);
        var r = Setup(layer, g);
        var lsq = (LsqQuantizer)layer.Quantizer!;

        for (int step = 1; step <= 2; step++)
        {
            var x = torch.randn([3, In, 6, 6], generator: g) * 2 + 0.5;
            var upstream = torch.randn([3, Out, 6, 6], generator: g); // Σ y·u: Σ y alone has no gradient through batch statistics
            layer.zero_grad();
            var y = layer.forward(x);
            (y * upstream).sum().backward();

            var w = r.W.clone().requires_grad_(true);
            var gamma = r.Gamma.clone().requires_grad_(true);
            var (expected, seen) = ReferenceTrainingStep(recipe, r, x, w, gamma);
            (expected * upstream).sum().backward();

            TensorAssert.Close(expected, y, 1e-5, $"step {step}: training output");
            TensorAssert.Close(r.RunningMean, layer.BatchNorm.running_mean!, 1e-6, $"step {step}: running mean");
            TensorAssert.Close(r.RunningVar, layer.BatchNorm.running_var!, 1e-6, $"step {step}: running variance");
            Assert.Equal(step, layer.BatchNorm.num_batches_tracked!.item<long>());
            if (step == 1) // LSQ's step comes from the weight it saw: W·γ/√(running σ² + ε), before or after this step's update
                TensorAssert.Close(2 * seen.detach().abs().mean([1, 2, 3]) / Math.Sqrt(Qp), lsq.StepSize.detach(), 1e-6, "the weight the quantizer sees");
            TensorAssert.Close(w.grad!, layer.Weight.grad!, 1e-4, $"step {step}: dL/dW");
            TensorAssert.Close(gamma.grad!, layer.BatchNorm.weight.grad!, 1e-4, $"step {step}: dL/dγ");
        }

        layer.eval();
        var test = torch.randn([2, In, 6, 6], generator: g);
        var scale = r.Gamma / (r.RunningVar + r.Eps).sqrt();
        using (torch.no_grad())
        {
            var accelerator = Conv(test, Lsq(r, r.W * K(scale))) + C(r.Beta - r.RunningMean * scale);
            TensorAssert.Close(accelerator, layer.forward(test), 1e-5, "eval output");
            TensorAssert.Close(r.W * K(scale), layer.EffectiveWeight(), 1e-6, "effective weight");
        }
    }

    [Fact]
    public void ConvBn_QKerasFirstStep_QuantizerSeesTheRunningVarianceAfterTheUpdate()
    {
        // Guards against the test above passing for the wrong reason: the two candidate weights differ by far more
        // than its tolerance here.
        using var layer = Layer(BnFoldRecipe.QKeras);
        using var scope = torch.NewDisposeScope();
        var g = new Generator(12);
        var r = Setup(layer, g);
        var x = torch.randn([3, In, 6, 6], generator: g) * 3;
        layer.forward(x);

        var step = ((LsqQuantizer)layer.Quantizer!).StepSize.detach();
        var before = 2 * (r.W * K(r.Gamma / (r.RunningVar + r.Eps).sqrt())).abs().mean([1, 2, 3]) / Math.Sqrt(Qp);
        var relative = ((step - before).abs() / before).max().item<float>();
        Assert.True(relative > 1e-3, $"the step is within {relative:G3} of the one from the running variance before the update");
    }

    [Theory]
    [InlineData(BnFoldRecipe.QKeras, 1e-3, 0.01)]
    [InlineData(BnFoldRecipe.PyTorch, 1e-5, 0.1)]
    [InlineData(BnFoldRecipe.None, 1e-5, 0.1)]
    public void ConvBn_Recipe_BatchNormEpsAndMomentum(string recipe, double eps, double momentum)
    {
        using var layer = Layer(recipe, method: "none");

        Assert.Equal(recipe != BnFoldRecipe.None, layer.FoldsBatchNorm);
        Assert.Equal(eps, layer.BatchNorm.eps);
        Assert.Equal(momentum, layer.BatchNorm.momentum);
    }

    [Fact]
    public void ConvBn_StemWithoutQuantizeFirstLast_NotFolded()
    {
        var plan = new QuantizationPlan(new QuantizerSpec { Method = "msqe_po2", BnFold = BnFoldRecipe.QKeras });
        using var stem = new ConvBn(1, 8, kernelSize: 3, role: LayerRole.First, plan: plan);
        using var body = new ConvBn(8, 8, kernelSize: 3, role: LayerRole.Body, plan: plan);

        Assert.Equal(BatchNormFolding.None, stem.Folding);
        Assert.Equal(1e-5, stem.BatchNorm.eps);
        Assert.Equal(BatchNormFolding.QKeras, body.Folding);
    }

    [Theory]
    [InlineData(BnFoldRecipe.QKeras)]
    [InlineData(BnFoldRecipe.PyTorch)]
    public void Export_FoldedLayer_WeightAndBiasComputeTheEvalForward(string recipe)
    {
        using var layer = Layer(recipe, method: "msqe_po2");
        using var scope = torch.NewDisposeScope();
        var g = new Generator(13);
        var r = Setup(layer, g);
        for (int i = 0; i < 2; i++) layer.forward(torch.randn([3, In, 6, 6], generator: g) * 2 - 1);
        layer.eval();
        var spec = new TrainableSpec { Model = "mobilenet_v1", Dataset = new DatasetSpec(), Quantizer = new QuantizerSpec { Method = "msqe_po2", Bits = Bits, BnFold = recipe } };

        var export = Assert.Single(QuantizedExport.FromLayers([layer], spec, classes: 10).Layers);

        Assert.True(export.BnFolded);
        Assert.Null(export.BatchNorm);
        var bn = layer.BatchNorm;
        var scale = bn.weight / (bn.running_var! + bn.eps).sqrt();
        TensorAssert.Close(bn.bias! - bn.running_mean! * scale, torch.tensor(export.Bias!), 1e-6, "folded bias");
        var x = torch.randn([2, In, 6, 6], generator: g);
        var accelerator = nn.functional.conv2d(x, torch.tensor(export.Dequantize()).reshape(export.Shape), torch.tensor(export.Bias!), padding: [1, 1]);
        TensorAssert.Close(accelerator, layer.forward(x), 1e-5, "eval forward");
        Assert.NotEqual(0.0, (r.RunningVar - bn.running_var!).abs().max().item<float>()); // the statistics did move
    }
}
