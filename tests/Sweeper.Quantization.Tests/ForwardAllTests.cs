using Sweeper.Quantization.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// <see cref="WeightQuantizer.ForwardAll"/> (the fused nodes of several quantizers as one autograd node) trains exactly
/// as calling each quantizer's <c>forward</c> in turn: outputs, weight and scale gradients, state and diagnostics to the bit,
/// for every method, with quantizers on the reference path (a float64 weight, a non-contiguous one) mixed in.
/// </summary>
public sealed class ForwardAllTests
{
    public ForwardAllTests() => torch.set_num_threads(1);

    private static readonly long[][] Shapes = [[16, 3, 3, 3], [8, 1, 3, 3], [24, 8, 1, 1], [5, 37], [12, 6, 1, 1], [9, 7], [10, 4, 3, 3], [6, 5]];

    /// <summary>One quantizer per method and variant; the last two quantize weights the fused path does not take.</summary>
    private static List<WeightQuantizer> Quantizers() =>
    [
        new MsqePo2Quantizer(Shapes[0], 4, 0, new MsqePo2QuantizerOptions { SecondMoments = true, StableScale = true }),
        new LegacyAutoPo2Quantizer(Shapes[1], 4, 0),
        new LearnablePo2Quantizer(Shapes[2], 4, 0, new LearnablePo2QuantizerOptions { SecondMoments = true }),
        new LsqQuantizer(Shapes[3], 4, 0),
        new MsqePo2Quantizer(Shapes[4], 3, null),
        new LearnablePo2Quantizer(Shapes[5], 4, 1),
        new LsqQuantizer(Shapes[6], 4, 0),          // given a float64 weight
        new LegacyAutoPo2Quantizer(Shapes[7], 4, 1), // given a non-contiguous weight
    ];

    /// <summary>Two sets of the same quantizers in training mode: one called one by one, one through <see cref="WeightQuantizer.ForwardAll"/>.</summary>
    private static (List<WeightQuantizer> Single, List<WeightQuantizer> Batched) TrainingTwins()
    {
        var single = Quantizers();
        var batched = Quantizers();
        foreach (var q in single.Concat(batched)) q.train();
        return (single, batched);
    }

    private static List<Tensor> Weights(int step)
    {
        var weights = new List<Tensor>();
        for (int i = 0; i < Shapes.Length; i++)
        {
            using var generator = new Generator((ulong)(1000 * step + i));
            var w = torch.randn(Shapes[i], generator: generator) * 0.3f;
            if (i == 6) w = w.to_type(ScalarType.Float64);
            if (i == 7) w = w.t().contiguous().t(); // the same values, column-major in memory
            weights.Add(w.requires_grad_(true));
        }

        return weights;
    }

    [Fact]
    public void ForwardAll_EveryMethod_SameAsOneByOne()
    {
        using var scope = torch.NewDisposeScope();
        var (single, batched) = TrainingTwins();
        single[1].CollectDiagnostics = batched[1].CollectDiagnostics = false; // on by default: one off, as training sets them
        Assert.False(Weights(0)[7].is_contiguous());

        for (int step = 0; step < 4; step++)
        {
            var ws = Weights(step);
            var wb = Weights(step);
            var ys = single.Select((q, i) => q.forward(ws[i])).ToList();
            var yb = WeightQuantizer.ForwardAll(batched, wb);
            Backward(ys, step);
            Backward(yb, step);

            for (int i = 0; i < single.Count; i++)
            {
                FusedKernelTests.AssertSameBits(ys[i], yb[i], $"step {step} quantizer {i} output");
                FusedKernelTests.AssertSameBits(ws[i].grad!, wb[i].grad!, $"step {step} quantizer {i} weight gradient");
                var ps = single[i].parameters().ToList();
                var pb = batched[i].parameters().ToList();
                Assert.Equal(ps.Count, pb.Count);
                for (int k = 0; k < ps.Count; k++)
                {
                    FusedKernelTests.AssertSameBits(ps[k].grad!, pb[k].grad!, $"step {step} quantizer {i} scale gradient");
                    using var noGrad = torch.no_grad();
                    ps[k].sub_(ps[k].grad! * 0.01f); // a small optimizer step: later steps quantize with a trained scale
                    pb[k].sub_(pb[k].grad! * 0.01f);
                    ps[k].grad!.zero_();
                    pb[k].grad!.zero_();
                }

                FusedKernelTests.AssertSameState(single[i], batched[i]);
                Assert.Equal(single[i].StepCount, batched[i].StepCount);
            }

            for (int i = 0; i < single.Count; i++)
            {
                if (i == 1) continue;
                var (expected, actual) = (single[i].LastDiagnostics!, batched[i].LastDiagnostics!);
                Assert.Equal(expected.Scales, actual.Scales);
                Assert.Equal(expected.Msqe, actual.Msqe);
                Assert.Equal(expected.ClippedFraction, actual.ClippedFraction);
                Assert.Equal(expected.Exponents, actual.Exponents);
                Assert.Equal(expected.TotalFlips, actual.TotalFlips);
            }

            Assert.Null(batched[1].LastDiagnostics);
        }
    }

    /// <summary>
    /// Weights that keep their gradient from step to step, as a model's parameters do: accumulated over two backward passes,
    /// then zeroed in place (as <c>zero_grad</c> does), by turns. From the second pass on, the batch node adds each fused
    /// part's weight gradient into the one the weight holds instead of returning it: the same bits as autograd's addition
    /// of the one-by-one nodes' returned gradients, for every method, the reference-path weights alongside.
    /// </summary>
    [Fact]
    public void ForwardAll_KeptGradients_AddedAsAutogradAddsThem()
    {
        using var scope = torch.NewDisposeScope();
        var (single, batched) = TrainingTwins();
        var ws = Weights(0);
        var wb = Weights(0);
        long added = FusedBatch.AddableGradients, scales = FusedBatch.AddedScaleGradients;

        for (int step = 0; step < 6; step++)
        {
            var ys = single.Select((q, i) => q.forward(ws[i])).ToList();
            var yb = WeightQuantizer.ForwardAll(batched, wb);
            Backward(ys, step);
            Backward(yb, step);

            for (int i = 0; i < single.Count; i++)
            {
                FusedKernelTests.AssertSameBits(ws[i].grad!, wb[i].grad!, $"step {step} quantizer {i} weight gradient");
                var ps = single[i].parameters().ToList();
                var pb = batched[i].parameters().ToList();
                for (int k = 0; k < ps.Count; k++)
                    FusedKernelTests.AssertSameBits(ps[k].grad!, pb[k].grad!, $"step {step} quantizer {i} scale gradient");
                if (step % 2 == 0) continue;
                foreach (var t in new[] { ws[i], wb[i] }.Concat(ps).Concat(pb)) t.grad!.zero_();
            }
        }

        // Six fused parts (the last two quantizers take the reference path) on every pass after the first; the scale
        // gradients of the learned parts whose channels are rows (learnable_po2 on axis 0, lsq), summed in the pass.
        Assert.Equal(6 * 5, FusedBatch.AddableGradients - added);
        Assert.Equal(2 * 5, FusedBatch.AddedScaleGradients - scales);
    }

    /// <summary>A different random direction per output, so that a gradient routed to the wrong quantizer shows.</summary>
    private static void Backward(IReadOnlyList<Tensor> outputs, int step)
    {
        Tensor? loss = null;
        for (int i = 0; i < outputs.Count; i++)
        {
            using var generator = new Generator((ulong)(77 + 31 * step + i));
            var direction = torch.randn(outputs[i].shape, generator: generator).to_type(outputs[i].dtype);
            var term = (outputs[i] * direction).sum().to_type(ScalarType.Float64);
            loss = loss is null ? term : loss + term;
        }

        loss!.backward();
    }

    [Fact]
    public void ForwardAll_Eval_SameAsOneByOne()
    {
        using var scope = torch.NewDisposeScope();
        var single = Quantizers();
        var batched = Quantizers();
        var warm = Weights(0);
        foreach (var set in new[] { single, batched })
        {
            foreach (var q in set) q.train();
            WeightQuantizer.ForwardAll(set, warm.Select(w => w.detach()).ToList());
            foreach (var q in set) q.eval();
        }

        var ws = Weights(1);
        var yb = WeightQuantizer.ForwardAll(batched, ws);
        for (int i = 0; i < single.Count; i++)
            FusedKernelTests.AssertSameBits(single[i].forward(ws[i]), yb[i], $"eval quantizer {i}");
    }

    [Fact]
    public void ForwardAll_BadArguments_ClearErrors()
    {
        using var scope = torch.NewDisposeScope();
        var quantizers = Quantizers();
        var weights = Weights(0);
        var count = Assert.Throws<ArgumentException>(() => WeightQuantizer.ForwardAll(quantizers, weights.Take(3).ToList()));
        Assert.Contains("8 quantizers were given 3 weights", count.Message);
        var twice = Assert.Throws<ArgumentException>(() => WeightQuantizer.ForwardAll([quantizers[0], quantizers[0]], [weights[0], weights[0]]));
        Assert.Contains("appears twice", twice.Message);
    }

    /// <summary>A weight of the wrong shape midway: a clear error, and every quantizer computes its own output afterwards (none is left collecting).</summary>
    [Fact]
    public void ForwardAll_WrongShapeMidway_ThrowsAndLeavesQuantizersUsable()
    {
        using var scope = torch.NewDisposeScope();
        var quantizers = Quantizers();
        foreach (var q in quantizers) q.train();
        var weights = Weights(0);
        weights[3] = torch.randn(5, 36).requires_grad_(true);
        var error = Assert.Throws<ArgumentException>(() => WeightQuantizer.ForwardAll(quantizers, weights));
        Assert.Contains("expected a weight of shape [5, 37], got [5, 36]", error.Message);

        var good = Weights(1);
        for (int i = 0; i < quantizers.Count; i++)
        {
            var y = quantizers[i].forward(good[i]);
            Assert.NotNull(y);
            Assert.Equal(good[i].shape, y.shape);
        }
    }
}
