using Sweeper.Quantization.Po2;
using Sweeper.Quantization.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

public sealed class StatefulQuantizerTests
{
    private static Tensor Weight(long[] shape, int seed, double scale = 0.05)
    {
        var generator = new torch.Generator((ulong)seed);
        return (torch.randn(shape, generator: generator) * scale).to_type(ScalarType.Float32);
    }

    [Fact]
    public void MsqePo2_FirstTrainingStep_EqualsPureFunction()
    {
        using var scope = torch.NewDisposeScope();
        var w = Weight([8, 3, 3, 3], seed: 1);
        var quantizer = new MsqePo2Quantizer([8, 3, 3, 3], 4, 0);

        var y = quantizer.forward(w);
        using var pure = Po2Quantizers.MsqePo2(w, 4, 0);

        Assert.True(Same(y, pure.Dequantized));
        Assert.Equal(GoldenAssert.Longs(pure.Exponents), quantizer.LastDiagnostics!.Exponents);
        Assert.Equal(GoldenAssert.Doubles(pure.Msqe), quantizer.LastDiagnostics.Msqe);
    }

    [Fact]
    public void MsqePo2_NextStep_StartsFromPreviousExponent()
    {
        // Without refits and line search the exponent is just the start: the data-driven one at step 0,
        // the previous step's one afterwards, even when the weights grow 4x.
        using var scope = torch.NewDisposeScope();
        var w = Weight([6, 10], seed: 2);
        var quantizer = new MsqePo2Quantizer([6, 10], 4, 0, new MsqePo2QuantizerOptions { LlsIters = 0, LineSearch = false });
        quantizer.forward(w);
        var first = quantizer.LastDiagnostics!.Exponents;

        quantizer.forward(w * 4);

        Assert.Equal(first, quantizer.LastDiagnostics!.Exponents);
        using var fresh = Po2Quantizers.MsqePo2(w * 4, 4, 0, new MsqePo2Options { LlsIters = 0, LineSearch = false });
        Assert.Equal(first.Select(e => e + 2), GoldenAssert.Longs(fresh.Exponents));
    }

    [Fact]
    public void MsqePo2_StableScale_EmaThenFrozenRoundedEma()
    {
        using var scope = torch.NewDisposeScope();
        long[] shape = [4, 16];
        var quantizer = new MsqePo2Quantizer(shape, 4, 0, new MsqePo2QuantizerOptions { StableScale = true, FreezeAtStep = 3 });
        var w = Weight(shape, seed: 3);
        double[] scales = [1, 2, 8]; // exponents move up by 0, 1, 3
        var ema = new double[4];
        for (var step = 0; step < 3; step++)
        {
            quantizer.forward(w * scales[step]);
            var d = quantizer.LastDiagnostics!;
            Assert.False(d.Frozen);
            for (var c = 0; c < 4; c++)
                ema[c] = step == 0 ? d.Exponents[c] : 0.99 * ema[c] + 0.01 * d.Exponents[c];

            Assert.Equal(ema, quantizer.StableEma, new ToleranceComparer(1e-12));
        }

        // Step 3 uses the frozen R(EMA), whatever the weights do.
        var frozen = ema.Select(v => (long)Math.Round(v, MidpointRounding.ToEven)).ToArray();
        quantizer.forward(w * 64);
        Assert.True(quantizer.IsFrozen);
        Assert.True(quantizer.LastDiagnostics!.Frozen);
        Assert.Equal(frozen, quantizer.LastDiagnostics.Exponents);
        Assert.Equal(frozen, quantizer.StableExponents);
        var emaAtFreeze = quantizer.StableEma;

        quantizer.forward(w / 64);
        Assert.Equal(frozen, quantizer.LastDiagnostics!.Exponents);
        Assert.Equal(emaAtFreeze, quantizer.StableEma);
        Assert.Equal(0, quantizer.LastDiagnostics.Flips);
    }

    [Fact]
    public void MsqePo2_SecondMoments_EmaOfSquaredGradientOfNotClippedWeights()
    {
        using var scope = torch.NewDisposeScope();
        long[] shape = [3, 8];
        var quantizer = new MsqePo2Quantizer(shape, 3, 0, new MsqePo2QuantizerOptions { SecondMoments = true });
        var values = GoldenAssert.Doubles(Weight(shape, seed: 4)).Select(v => (float)v).ToArray();
        values[10] = 5.0f; // [1, 2]: an outlier that clips
        var x = torch.tensor(values).reshape(shape);
        var expected = Enumerable.Repeat(1.0, 24).ToArray();
        for (var step = 0; step < 2; step++)
        {
            var c = Weight(shape, seed: 10 + step, scale: 1.0);
            var w = x.clone().requires_grad_(true);
            var y = quantizer.forward(w);
            (y * c).sum().backward();

            var exponents = quantizer.LastDiagnostics!.Exponents;
            var xs = GoldenAssert.Doubles(x);
            var cs = GoldenAssert.Doubles(c);
            for (var i = 0; i < 24; i++)
            {
                var s = Math.Pow(2, exponents[i / 8]);
                var notClipped = Math.Abs(Math.Round(xs[i] / s, MidpointRounding.ToEven)) <= 3 ? 1.0 : 0.0;
                expected[i] = 0.999 * expected[i] + 0.001 * cs[i] * cs[i] * notClipped;
            }

            GradientTests.AssertClose(expected, quantizer.SecondMoment!, 1e-6);
        }

        Assert.Equal(0.999 * 0.999, expected[10], 12); // the outlier clipped at both steps: its moment only decayed
    }

    [Fact]
    public void MsqePo2_EvalCall_ChangesNoState()
    {
        using var scope = torch.NewDisposeScope();
        var quantizer = new MsqePo2Quantizer([4, 4], 4, null, new MsqePo2QuantizerOptions { StableScale = true });
        var w = Weight([4, 4], seed: 5);
        quantizer.forward(w);
        var before = quantizer.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        quantizer.eval();
        quantizer.forward(w * 16);

        Assert.False(quantizer.LastDiagnostics!.Training);
        Assert.Equal(1, quantizer.StepCount);
        foreach (var (key, value) in quantizer.state_dict())
            Assert.True(Same(value, before[key]), key);
    }

    [Fact]
    public void LegacyAutoPo2_ExponentChanges_CountedAsFlipsPerChannel()
    {
        using var scope = torch.NewDisposeScope();
        long[] shape = [5, 3];
        var quantizer = new LegacyAutoPo2Quantizer(shape, 4, 1);
        var w = Weight(shape, seed: 6);
        long[] expectedFlips = [0, 3, 0, 3];
        double[] scales = [1, 2, 2, 1];
        for (var i = 0; i < 4; i++)
        {
            quantizer.forward(w * scales[i]);
            Assert.Equal(expectedFlips[i], quantizer.LastDiagnostics!.Flips);
        }

        Assert.Equal(6, quantizer.TotalFlips);
        Assert.Equal(4, quantizer.StepCount);

        quantizer.eval();
        quantizer.forward(w * 2);
        Assert.Equal(6, quantizer.TotalFlips);
        Assert.Equal(0, quantizer.LastDiagnostics!.Flips);
    }

    [Fact]
    public void LearnablePo2_FirstTrainingCall_InitialisesLog2ScaleFromData()
    {
        using var scope = torch.NewDisposeScope();
        var w = Weight([3, 3, 4, 8], seed: 7);
        var quantizer = new LearnablePo2Quantizer([3, 3, 4, 8], 4, 3);
        Assert.False(quantizer.IsInitialized);

        var y = quantizer.forward(w);

        using var pure = Po2Quantizers.LearnablePo2(w, 4, 3);
        Assert.True(quantizer.IsInitialized);
        GradientTests.AssertClose(GoldenAssert.Doubles(pure.Log2Scale), quantizer.Log2Scale, 1e-6);
        Assert.True(Same(y, pure.Dequantized));
    }

    [Fact]
    public void Diagnostics_ClippedAndOutlierFractions_CountElements()
    {
        using var scope = torch.NewDisposeScope();
        var quantizer = new LearnablePo2Quantizer([8], 2, null, new LearnablePo2QuantizerOptions { Mode = Po2ExponentMode.Ceil });
        quantizer.SetLog2Scale(-1f); // s = 0.5, qp = 1: |x| ≤ 0.75 keeps its code; the mask threshold 2^-1 · 1.5 = 0.75
        quantizer.forward(torch.tensor(new[] { 0.1f, -0.2f, 0.7f, 0.8f, -1.0f, 0.3f, 0.74f, 2.0f }));

        var d = quantizer.LastDiagnostics!;
        Assert.Equal(3.0 / 8, d.ClippedFraction, 12);
        Assert.Equal(3.0 / 8, d.OutlierFraction, 12);
        Assert.Equal([0.5], d.Scales);
    }

    [Fact]
    public void StateDict_SaveLoadRoundTrip_RestoresStateAndNextStepExactly()
    {
        using var scope = torch.NewDisposeScope();
        long[] shape = [6, 12];
        var options = new MsqePo2QuantizerOptions { SecondMoments = true, StableScale = true, FreezeAtStep = 4 };
        var a = new MsqePo2Quantizer(shape, 4, 0, options);
        var la = new LearnablePo2Quantizer(shape, 4, 0, new LearnablePo2QuantizerOptions { SecondMoments = true });
        var qa = new LsqQuantizer(shape, 4, 0);
        for (var step = 0; step < 3; step++)
        {
            Train(a, shape, step);
            Train(la, shape, step);
            Train(qa, shape, step);
        }

        var b = RoundTrip(a, new MsqePo2Quantizer(shape, 4, 0, options));
        var lb = RoundTrip(la, new LearnablePo2Quantizer(shape, 4, 0, new LearnablePo2QuantizerOptions { SecondMoments = true }));
        var qb = RoundTrip(qa, new LsqQuantizer(shape, 4, 0));

        Assert.Equal(a.StepCount, b.StepCount);
        Assert.Equal(a.TotalFlips, b.TotalFlips);
        Assert.Equal(a.Exponents, b.Exponents);
        Assert.Equal(a.StableEma, b.StableEma);
        Assert.True(Same(a.SecondMoment!, b.SecondMoment!));
        Assert.True(Same(la.Log2Scale, lb.Log2Scale));
        Assert.True(lb.IsInitialized);
        Assert.True(Same(qa.StepSize, qb.StepSize));
        Assert.True(qb.IsInitialized);

        // Step 3 then 4 (the freeze) give identical outputs, diagnostics and state on the original and the restored copy.
        foreach (var step in new[] { 3, 4 })
        {
            var ya = Train(a, shape, step);
            var yb = Train(b, shape, step);
            Assert.True(Same(ya, yb));
            Assert.Equal(a.LastDiagnostics!.Exponents, b.LastDiagnostics!.Exponents);
            Assert.Equal(a.LastDiagnostics.TotalFlips, b.LastDiagnostics.TotalFlips);
            Assert.Equal(a.IsFrozen, b.IsFrozen);
            Assert.True(Same(Train(la, shape, step), Train(lb, shape, step)));
            Assert.True(Same(Train(qa, shape, step), Train(qb, shape, step)));
        }

        Assert.True(b.IsFrozen);
        Assert.Equal(a.StableExponents, b.StableExponents);
        foreach (var (key, value) in a.state_dict())
            Assert.True(Same(value, b.state_dict()[key]), key);
    }

    private static Tensor Train(WeightQuantizer quantizer, long[] shape, int step)
    {
        var w = (Weight(shape, seed: 100 + step) * (1 + 0.5 * step)).requires_grad_(true);
        var y = quantizer.forward(w);
        (y * Weight(shape, seed: 200 + step, scale: 1.0)).sum().backward();
        return y.detach();
    }

    private static T RoundTrip<T>(T source, T target)
        where T : nn.Module
    {
        using var stream = new MemoryStream();
        source.save(new BinaryWriter(stream));
        stream.Position = 0;
        target.load(new BinaryReader(stream));
        return target;
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}
