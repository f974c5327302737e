using Sweeper.Quantization.Po2;
using Sweeper.Quantization.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// The fused kernels (<see cref="FusedKernels"/>) against the reference libtorch op chains they replace
/// (<see cref="FusedKernels.ReferenceOnly"/>): forward values, weight gradients, scale gradients, exponents and state of
/// every training quantizer, and every result of the pure quantizers, compared bit for bit (NaN matches NaN), per
/// tensor and per channel over several axes, on random weights with boundary values mixed in (x/s at ±qp ± 0.5,
/// ±0.5, ±qp ± 0.3, ±0, huge and tiny magnitudes), with row lengths that exercise both the 4/8-wide loops and their
/// scalar tails.
/// </summary>
public sealed class FusedKernelTests
{
    /// <summary>Shape, channel axis (−1: per tensor).</summary>
    public static TheoryData<long[], int> Shapes => new()
    {
        { [16, 3, 3, 3], 0 },   // conv weight, 27 per channel: vector body + tail
        { [8, 1, 3, 3], 0 },    // depthwise, 9 per channel
        { [5, 37], 0 },         // linear, odd rows
        { [6, 20], 1 },         // channel axis not first (Outer > 1)
        { [4, 5, 6], 1 },       // middle axis
        { [7, 11], -1 },        // per tensor
        { [13], 0 },            // one element per channel
        { [64, 32, 1, 1], 0 },  // pointwise
    };

    private static int? Axis(int axis) => axis < 0 ? null : axis;

    /// <summary>Random normal weights with boundary multiples of <paramref name="step"/> (and signed zeros) mixed in.</summary>
    private static Tensor Weights(long[] shape, long seed, double step, int qp, bool nonFinite = false)
    {
        using var generator = new Generator((ulong)seed);
        using var random = torch.randn(shape, generator: generator);
        var flat = random.data<float>().ToArray();
        double[] multiples = [qp + 0.5, -(qp + 0.5), qp - 0.5, -(qp - 0.5), qp + 0.3, -(qp + 0.3), 0.5, -0.5, 1.5, -2.5, qp, -qp, qp + 1, 0.0, 40 * qp, 1e-6];
        for (var i = 0; i < flat.Length; i++) flat[i] *= 0.4f;
        for (int i = 0, j = 0; i < flat.Length; i += 3, j++)
            flat[i] = (float)(multiples[j % multiples.Length] * step);
        if (flat.Length > 4) flat[4] = -0.0f;
        if (nonFinite && flat.Length > 9)
        {
            flat[1] = float.NaN;
            flat[5] = float.PositiveInfinity;
            flat[9] = float.NegativeInfinity;
        }
        return torch.tensor(flat).reshape(shape);
    }

    internal static void AssertSameBits(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        using var e = expected.detach().to_type(ScalarType.Float64).contiguous().cpu();
        using var a = actual.detach().to_type(ScalarType.Float64).contiguous().cpu();
        var ev = e.data<double>().ToArray();
        var av = a.data<double>().ToArray();
        for (var i = 0; i < ev.Length; i++)
        {
            if (double.IsNaN(ev[i]) && double.IsNaN(av[i])) continue;
            Assert.True(BitConverter.DoubleToInt64Bits(ev[i]) == BitConverter.DoubleToInt64Bits(av[i]),
                $"{what}[{i}]: reference {ev[i]:R}, fused {av[i]:R}");
        }
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    internal static void AssertSameState(nn.Module reference, nn.Module fused)
    {
        var expected = reference.state_dict();
        var actual = fused.state_dict();
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var key in expected.Keys)
        {
            if (expected[key].dtype == ScalarType.Bool || expected[key].dtype == ScalarType.Int64)
                Assert.True(Same(expected[key], actual[key]), $"state {key}");
            else
                AssertSameBits(expected[key], actual[key], $"state {key}");
        }
    }

    /// <summary>Runs <paramref name="steps"/> training calls (and one eval call) through both paths and compares everything.</summary>
    private static void AssertTrainingSame(Func<WeightQuantizer> create, Action<WeightQuantizer>? setup, long[] shape, double step, int qp, int steps = 3, bool nonFinite = false)
    {
        using var scope = torch.NewDisposeScope();
        var reference = create();
        var fused = create();
        setup?.Invoke(reference);
        setup?.Invoke(fused);
        reference.train();
        fused.train();
        for (var s = 0; s < steps; s++)
        {
            var w = Weights(shape, 11 + s, step, qp, nonFinite);
            using var generator = new Generator((ulong)(100 + s));
            var c = torch.randn(shape, generator: generator);

            var wr = w.clone().requires_grad_(true);
            Tensor yr;
            FusedKernels.ReferenceOnly = true;
            try
            {
                yr = reference.forward(wr);
                (yr * c).sum().backward();
            }
            finally
            {
                FusedKernels.ReferenceOnly = false;
            }

            var wf = w.clone().requires_grad_(true);
            fused.CollectDiagnostics = s % 2 == 1; // by turns: without them, learnable_po2 keeps its exponents in pooled memory
            var yf = fused.forward(wf);
            (yf * c).sum().backward();

            AssertSameBits(yr, yf, $"step {s} output");
            AssertSameBits(wr.grad!, wf.grad!, $"step {s} weight gradient");
            var pr = reference.parameters().ToList();
            var pf = fused.parameters().ToList();
            Assert.Equal(pr.Count, pf.Count);
            for (var i = 0; i < pr.Count; i++)
            {
                Assert.NotNull(pf[i].grad);
                AssertSameBits(pr[i].grad!, pf[i].grad!, $"step {s} scale gradient");
                using var noGrad = torch.no_grad();
                // A small optimizer step, so that later steps quantize with a trained scale.
                pr[i].sub_(pr[i].grad! * 0.01f);
                pf[i].sub_(pf[i].grad! * 0.01f);
                pr[i].grad!.zero_();
                pf[i].grad!.zero_();
            }
            AssertSameState(reference, fused);
        }

        reference.eval();
        fused.eval();
        var x = Weights(shape, 99, step, qp, nonFinite);
        Tensor er;
        FusedKernels.ReferenceOnly = true;
        try { er = reference.forward(x); }
        finally { FusedKernels.ReferenceOnly = false; }
        AssertSameBits(er, fused.forward(x), "eval output");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MsqePo2_FusedPathMatchesReference(long[] shape, int axis) =>
        AssertTrainingSame(() => new MsqePo2Quantizer(shape, 4, Axis(axis)), null, shape, 0.05, 7);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MsqePo2_SecondMomentsNoMaskStableScale_FusedPathMatchesReference(long[] shape, int axis) =>
        AssertTrainingSame(() => new MsqePo2Quantizer(shape, 3, Axis(axis), new MsqePo2QuantizerOptions { SecondMoments = true, OutlierSigma = null, StableScale = true, FreezeAtStep = 3, LineSearchRange = 4 }),
            null, shape, 0.1, 3, steps: 4);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MsqePo2_SecondMomentsAndOutlierMask_FusedPathMatchesReference(long[] shape, int axis) =>
        // The spec's default: the MSQE weights are √v times the outlier mask, formed row by row on the fused path. Decay 0
        // makes v the last step's g²·pass, so the weights differ from 1 enough to move exponents.
        AssertTrainingSame(() => new MsqePo2Quantizer(shape, 4, Axis(axis), new MsqePo2QuantizerOptions { SecondMoments = true, SecondMomentDecay = 0 }), null, shape, 0.05, 7, steps: 4);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MsqePo2_SecondMomentsNoMask_FusedPathMatchesReference(long[] shape, int axis) =>
        // Without the mask the MSQE weights are √v alone, widened a row at a time from libtorch's float32 roots; decay 0
        // as above.
        AssertTrainingSame(() => new MsqePo2Quantizer(shape, 4, Axis(axis), new MsqePo2QuantizerOptions { SecondMoments = true, SecondMomentDecay = 0, OutlierSigma = null }),
            null, shape, 0.05, 7, steps: 4);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LegacyAutoPo2_FusedPathMatchesReference(long[] shape, int axis) =>
        AssertTrainingSame(() => new LegacyAutoPo2Quantizer(shape, 4, Axis(axis)), null, shape, 0.05, 7);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LearnablePo2_MsqeRoundSecondMoments_FusedPathMatchesReference(long[] shape, int axis) =>
        AssertTrainingSame(() => new LearnablePo2Quantizer(shape, 4, Axis(axis), new LearnablePo2QuantizerOptions { SecondMoments = true }), null, shape, 0.05, 7);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LearnablePo2_MsqeRoundSecondMomentsOfLastStep_FusedPathMatchesReference(long[] shape, int axis) =>
        // Decay 0: v is the last step's g²·pass, so √v weighs the floor/ceil comparison far from 1 (l = −4.5: a tie to break).
        AssertTrainingSame(() => new LearnablePo2Quantizer(shape, 4, Axis(axis), new LearnablePo2QuantizerOptions { SecondMoments = true, SecondMomentDecay = 0 }),
            q => ((LearnablePo2Quantizer)q).SetLog2Scale(-4.5f), shape, 0.05, 7, steps: 4);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LearnablePo2_MsqeRound_FusedPathMatchesReference(long[] shape, int axis) =>
        AssertTrainingSame(() => new LearnablePo2Quantizer(shape, 4, Axis(axis)), null, shape, 0.05, 7, steps: 4);

    /// <summary>The mask limits settled without libtorch's exp2 (<see cref="FusedKernels.MaskLimits"/>) are used by these steps.</summary>
    [Fact]
    public void LearnablePo2_MsqeRound_MaskLimitsWithoutLibtorch()
    {
        long before = FusedKernels.MaskLimitChannels;
        long[] shape = [16, 3, 3, 3];
        AssertTrainingSame(() => new LearnablePo2Quantizer(shape, 4, 0), null, shape, 0.05, 7, steps: 4);
        Assert.True(FusedKernels.MaskLimitChannels - before >= 16, $"{FusedKernels.MaskLimitChannels - before} channels");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LearnablePo2_MsqeRoundNoMask_FusedPathMatchesReference(long[] shape, int axis) =>
        AssertTrainingSame(() => new LearnablePo2Quantizer(shape, 3, Axis(axis), new LearnablePo2QuantizerOptions { OutlierMask = false }), null, shape, 0.1, 3, steps: 4);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LearnablePo2_MsqeRoundNonFiniteWeights_FusedPathMatchesReference(long[] shape, int axis) =>
        // l = −2.3 between the exponents −3 and −2; NaN and ±∞ weights fall out of the mask (their error times 0 is NaN).
        AssertTrainingSame(() => new LearnablePo2Quantizer(shape, 4, Axis(axis), new LearnablePo2QuantizerOptions { SecondMoments = true }),
            q => ((LearnablePo2Quantizer)q).SetLog2Scale(-2.3f), shape, 0.25, 7, nonFinite: true);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LearnablePo2_FixedScaleBoundaries_FusedPathMatchesReference(long[] shape, int axis) =>
        // l = −2.3 → ceil → s = 0.25: the boundary multiples are exact multiples of the step; NaN and ±∞ weights included.
        AssertTrainingSame(() => new LearnablePo2Quantizer(shape, 4, Axis(axis), new LearnablePo2QuantizerOptions { Mode = Po2ExponentMode.Ceil }),
            q => ((LearnablePo2Quantizer)q).SetLog2Scale(-2.3f), shape, 0.25, 7, nonFinite: true);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Lsq_FusedPathMatchesReference(long[] shape, int axis) =>
        AssertTrainingSame(() => new LsqQuantizer(shape, 4, Axis(axis)), null, shape, 0.05, 7);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Lsq_FixedStepBoundaries_FusedPathMatchesReference(long[] shape, int axis) =>
        AssertTrainingSame(() => new LsqQuantizer(shape, 3, Axis(axis)), q => ((LsqQuantizer)q).SetStepSize(0.37f), shape, 0.37, 3, nonFinite: true);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Lsq_StepBelowTheMinimum_FusedPathMatchesReference(long[] shape, int axis) =>
        // s = 1e-12 is clamped to the minimum step 1e-8 in the forward pass (every code clipped), in float32 on both paths.
        AssertTrainingSame(() => new LsqQuantizer(shape, 4, Axis(axis), minStep: 1e-8), q => ((LsqQuantizer)q).SetStepSize(1e-12f), shape, 0.05, 7, steps: 2);

    /// <summary>The second-moment EMA kernel against libtorch's four operations, every length from 1 to 70 and longer rows (vector body and scalar tail), NaN and ±∞ gradients included.</summary>
    [Fact]
    public void SecondMoment_EveryLength_SameBitsAsLibtorch()
    {
        Assert.True(FusedKernels.SecondMomentVerified);
        var random = new Random(7);
        foreach (var n in Enumerable.Range(1, 70).Concat([127, 1000, 4097]))
        {
            var v = new float[n];
            var g = new float[n];
            var pass = new bool[n];
            for (int i = 0; i < n; i++)
            {
                v[i] = (float)(random.NextDouble() * Math.Pow(2, random.Next(-20, 5)));
                g[i] = (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-20, 5)));
                pass[i] = random.Next(4) != 0;
            }
            if (n > 5) (g[1], g[3], g[5]) = (float.NaN, float.PositiveInfinity, float.NegativeInfinity);
            using var scope = torch.NewDisposeScope();
            var expected = torch.tensor(v);
            using (torch.no_grad()) Po2WeightQuantizer.LibtorchSecondMoment(expected, 0.999, torch.tensor(g), torch.tensor(pass));
            FusedKernels.SecondMoment(v, g, pass, 0.999);
            AssertSameBits(expected, torch.tensor(v), $"second moments, n = {n}");
        }
    }

    /// <summary>Where libtorch's sums cannot be reproduced (<see cref="LibtorchSum.Verified"/> false), the fused paths sum with libtorch: still the reference's results.</summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void WithoutRowSums_FusedPathsMatchReference(long[] shape, int axis)
    {
        FusedKernels.RowSumsOff = true;
        try
        {
            AssertTrainingSame(() => new MsqePo2Quantizer(shape, 4, Axis(axis)), null, shape, 0.05, 7);
            AssertTrainingSame(() => new LearnablePo2Quantizer(shape, 4, Axis(axis), new LearnablePo2QuantizerOptions { SecondMoments = true }), null, shape, 0.05, 7);
            AssertTrainingSame(() => new LsqQuantizer(shape, 4, Axis(axis)), null, shape, 0.05, 7);
        }
        finally
        {
            FusedKernels.RowSumsOff = false;
        }
    }

    /// <summary>
    /// Where libtorch's <c>sqrt</c> is not known to be close to the correctly rounded one, learnable_po2 gives its choice
    /// libtorch's roots of the second moments instead of forming them in the screening sums: still the reference's results.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void WithoutOwnRoots_LearnablePo2SecondMoments_FusedPathMatchesReference(long[] shape, int axis)
    {
        FusedKernels.OwnRootsOff = true;
        try
        {
            AssertTrainingSame(() => new LearnablePo2Quantizer(shape, 4, Axis(axis), new LearnablePo2QuantizerOptions { SecondMoments = true }), null, shape, 0.05, 7);
        }
        finally
        {
            FusedKernels.OwnRootsOff = false;
        }
    }

    /// <summary>The pure quantizers (golden vectors, quantize service): every result tensor of both paths.</summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void PureQuantizers_FusedPathMatchesReference(long[] shape, int axis)
    {
        using var scope = torch.NewDisposeScope();
        var x = Weights(shape, 5, 0.05, 7);
        var weights = torch.rand(shape, generator: new Generator(6)) + 0.5f;
        var init = torch.full(Axis(axis) is int a ? shape[a] : 1, -3L);

        object[] Run() =>
        [
            Po2Quantizers.MsqePo2(x, 4, Axis(axis)),
            Po2Quantizers.MsqePo2(x, 3, Axis(axis), new MsqePo2Options { Weights = weights, InitExponent = init, OutlierSigma = 1.5 }),
            Po2Quantizers.MsqePo2(x, 4, Axis(axis), new MsqePo2Options { OutlierSigma = null, LlsIters = 5 }),
            Po2Quantizers.LegacyAutoPo2(x, 4, Axis(axis)),
            Po2Quantizers.LearnablePo2(x, 4, Axis(axis), new LearnablePo2Options { Mode = Po2ExponentMode.MsqeRound, Weights = weights }),
            Po2Quantizers.LearnablePo2(x, 2, Axis(axis), new LearnablePo2Options { Mode = Po2ExponentMode.MsqeRound, OutlierMask = false }),
        ];

        object[] expected;
        FusedKernels.ReferenceOnly = true;
        try { expected = Run(); }
        finally { FusedKernels.ReferenceOnly = false; }
        var actual = Run();

        for (var r = 0; r < expected.Length; r++)
        {
            var properties = expected[r].GetType().GetProperties().Where(p => p.PropertyType == typeof(Tensor)).ToList();
            Assert.NotEmpty(properties);
            foreach (var p in properties)
            {
                var e = (Tensor?)p.GetValue(expected[r]);
                var f = (Tensor?)p.GetValue(actual[r]);
                Assert.Equal(e is null, f is null);
                if (e is null) continue;
                if (e.dtype == ScalarType.Bool || e.dtype == ScalarType.Int64) Assert.True(Same(e, f!), $"result {r} {p.Name}");
                else AssertSameBits(e, f!, $"result {r} {p.Name}");
            }
        }
    }

    [Fact]
    public void Kernels_ApplyOnlyToContiguousCpuTensorsOfTheirDtype()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.zeros(4, 6);
        Assert.True(FusedKernels.Applies(t, ScalarType.Float32));
        Assert.False(FusedKernels.Applies(t, ScalarType.Float64));
        Assert.False(FusedKernels.Applies(t.t(), ScalarType.Float32));
        FusedKernels.ReferenceOnly = true;
        try { Assert.False(FusedKernels.Applies(t, ScalarType.Float32)); }
        finally { FusedKernels.ReferenceOnly = false; }
    }

    /// <summary>A non-contiguous weight (a transposed view) takes the reference path and gives the contiguous copy's results.</summary>
    [Fact]
    public void Lsq_NonContiguousWeight_SameAsContiguous()
    {
        using var scope = torch.NewDisposeScope();
        var a = new LsqQuantizer([6, 5], 4, 0);
        var b = new LsqQuantizer([6, 5], 4, 0);
        a.SetStepSize(0.1f);
        b.SetStepSize(0.1f);
        var x = Weights([5, 6], 3, 0.1, 7).t();
        Assert.False(x.is_contiguous());
        AssertSameBits(a.forward(x.contiguous()), b.forward(x), "output");
    }
}
