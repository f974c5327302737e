using Sweeper.Quantization.Po2;
using Sweeper.Quantization.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// Straight-through gradients against hand-derived values computed here in plain C# doubles from the
/// formulas (not from the implementation): loss = Σ c_i · y_i, so the output gradient is c.
/// </summary>
public sealed class GradientTests
{
    private static readonly double Ln2 = Math.Log(2.0);

    /// <summary>Row-major channel index of flat element i.</summary>
    internal static int ChannelOf(long[] shape, int? axis, int i)
    {
        if (axis is not int a) return 0;

        long stride = 1;
        for (var d = a + 1; d < shape.Length; d++)
            stride *= shape[d];

        return (int)(i / stride % shape[a]);
    }

    [Theory]
    [InlineData(0)] // [2, 3], one exponent per row (PyTorch layout)
    [InlineData(1)] // [3, 2], channel-last layout
    public void LearnablePo2_Ceil_GradientWrtLog2ScaleAndWeight_MatchesTqtFormula(int axis)
    {
        // bits 3: qp = 3. l = [-1.3, 0.2] -> ceil -> e = [-1, 1] -> s = [0.5, 2].
        const int qp = 3;
        long[] shape = axis == 0 ? [2, 3] : [3, 2];
        float[] x = axis == 0
            ? [0.3f, -0.9f, 2.4f, 1.1f, -7.9f, 0.0f]
            : [0.3f, 1.1f, -0.9f, -7.9f, 2.4f, 0.0f];
        float[] c = [0.5f, -1.25f, 2.0f, 0.75f, 1.5f, -0.25f];
        double[] l = [-1.3, 0.2];

        // Expected, from the formula: dy/dl = ln2 · 2^e · (q − x/2^e) inside, ln2 · 2^e · (±qp) when clipped; dy/dx = [not clipped].
        var expectedL = new double[2];
        var expectedX = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            var ch = ChannelOf(shape, axis, i);
            var e = Math.Ceiling(l[ch]);
            var s = Math.Pow(2, e);
            var r = x[i] / s;
            var rounded = Math.Round(r, MidpointRounding.ToEven);
            var clipped = Math.Abs(rounded) > qp;
            var dyDl = clipped ? Ln2 * s * Math.Sign(rounded) * qp : Ln2 * s * (rounded - r);
            expectedL[ch] += c[i] * dyDl;
            expectedX[i] = clipped ? 0 : c[i];
        }

        using var scope = torch.NewDisposeScope();
        var quantizer = new LearnablePo2Quantizer(shape, 3, axis, new LearnablePo2QuantizerOptions { Mode = Po2ExponentMode.Ceil });
        quantizer.SetLog2Scale((float)l[0], (float)l[1]);
        var w = torch.tensor(x).reshape(shape).requires_grad_(true);

        var y = quantizer.forward(w);
        (y * torch.tensor(c).reshape(shape)).sum().backward();

        Assert.Equal([-1L, 1L], quantizer.LastDiagnostics!.Exponents);
        AssertClose(expectedL, quantizer.Log2Scale.grad!, 1e-6);
        AssertClose(expectedX, w.grad!, 0);
        Assert.Equal(2.0 / 6, quantizer.LastDiagnostics.ClippedFraction, 12);
    }

    [Fact]
    public void LearnablePo2_PerTensorMsqeRound_GradientWrtLog2Scale_MatchesTqtFormula()
    {
        const int qp = 7; // 4 bits
        float[] x = [0.11f, -0.52f, 0.93f, 0.05f, -1.7f, 0.33f, 0.0f, 0.61f];
        float[] c = [1f, 2f, -1f, 0.5f, 1f, -2f, 3f, 0.25f];
        const float l = -2.6f;

        using var scope = torch.NewDisposeScope();
        var quantizer = new LearnablePo2Quantizer([8], 4, null);
        quantizer.SetLog2Scale(l);
        var w = torch.tensor(x).requires_grad_(true);
        var y = quantizer.forward(w);
        (y * torch.tensor(c)).sum().backward();

        // The exponent comes from msqe_round (floor or ceil of l); the gradient formula does not depend on how it was chosen.
        var e = (double)quantizer.LastDiagnostics!.Exponents.Single();
        Assert.True(e == Math.Floor(l) || e == Math.Ceiling(l));
        var s = Math.Pow(2, e);
        double expected = 0;
        for (var i = 0; i < x.Length; i++)
        {
            var r = x[i] / s;
            var rounded = Math.Round(r, MidpointRounding.ToEven);
            expected += c[i] * (Math.Abs(rounded) > qp ? Ln2 * s * Math.Sign(rounded) * qp : Ln2 * s * (rounded - r));
        }

        AssertClose([expected], quantizer.Log2Scale.grad!, 1e-6);
    }

    [Fact]
    public void Lsq_GradientWrtStepAndWeight_MatchesEsserFormulaWithGradScale()
    {
        // bits 3: qp = 3; two channels (rows) of 4; g = 1 / sqrt(4 · 3).
        const int qp = 3;
        long[] shape = [2, 4];
        float[] x = [0.31f, -0.47f, 1.37f, -2.2f, 0.05f, 1.0f, -3.1f, 2.6f];
        float[] c = [1.5f, -0.5f, 2.0f, 1.0f, -1.0f, 0.25f, 0.75f, 2.5f];
        float[] step = [0.3f, 0.7f];
        var g = 1 / Math.Sqrt(4.0 * qp);

        var expectedS = new double[2];
        var expectedX = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            var ch = i / 4;
            var r = (double)x[i] / step[ch];
            var inside = r >= -qp && r <= qp;
            var dyDs = inside ? Math.Round(r, MidpointRounding.ToEven) - r : Math.Sign(r) * qp;
            expectedS[ch] += g * c[i] * dyDs;
            expectedX[i] = inside ? c[i] : 0;
        }

        using var scope = torch.NewDisposeScope();
        var quantizer = new LsqQuantizer(shape, 3, 0);
        quantizer.SetStepSize(step);
        var w = torch.tensor(x).reshape(shape).requires_grad_(true);
        var y = quantizer.forward(w);
        (y * torch.tensor(c).reshape(shape)).sum().backward();

        Assert.Equal(g, quantizer.GradientScale, 15);
        AssertClose(expectedS, quantizer.StepSize.grad!, 1e-5);
        AssertClose(expectedX, w.grad!, 0);
    }

    [Fact]
    public void Lsq_FirstTrainingCall_InitialisesStepFromData()
    {
        float[] x = [0.5f, -1.0f, 0.25f, 2.0f, -0.1f, 0.3f];
        using var scope = torch.NewDisposeScope();
        var quantizer = new LsqQuantizer([3, 2], 4, 1);

        quantizer.forward(torch.tensor(x).reshape(3, 2));

        // channel 0: {0.5, 0.25, -0.1}, channel 1: {-1, 2, 0.3}; s = 2·mean|x| / sqrt(7)
        var expected = new[] { 2 * (0.5 + 0.25 + 0.1) / 3 / Math.Sqrt(7), 2 * (1 + 2 + 0.3) / 3 / Math.Sqrt(7) };
        AssertClose(expected, quantizer.StepSize, 1e-6);
        Assert.True(quantizer.IsInitialized);
    }

    [Fact]
    public void MsqePo2_WeightGradient_IsIdentityInsideAndZeroForClippedCodes()
    {
        // 15 small values and one outlier, which the outlier mask keeps out of the fit, so its code clips.
        var x = Enumerable.Range(0, 16).Select(i => (float)(0.01 * (i - 7.5))).ToArray();
        x[5] = 3.0f;
        var c = Enumerable.Range(0, 16).Select(i => (float)(1 + 0.1 * i)).ToArray();
        using var scope = torch.NewDisposeScope();
        var quantizer = new MsqePo2Quantizer([16], 4, null);
        var w = torch.tensor(x).requires_grad_(true);

        var y = quantizer.forward(w);
        (y * torch.tensor(c)).sum().backward();

        var s = Math.Pow(2, quantizer.LastDiagnostics!.Exponents.Single());
        var expected = x.Select((v, i) => Math.Abs(Math.Round(v / s, MidpointRounding.ToEven)) <= 7 ? c[i] : 0.0).ToArray();
        Assert.Equal(0.0, expected[5]);
        Assert.Equal(15, expected.Count(v => v != 0));
        AssertClose(expected, w.grad!, 0);
    }

    [Fact]
    public void LegacyAutoPo2_WeightGradient_IsIdentityForEveryWeightIncludingClippedOnes()
    {
        // 3 bits (qp = 3) per tensor: the start and every refit give the exponent -2 (step 0.25), so 1.0 -> 4 clips to 3.
        float[] x = [0.3f, -0.3f, 0.3f, 0.3f, -0.3f, 0.3f, 1.0f, -0.3f];
        float[] c = [1f, -2f, 0.5f, 3f, -1.5f, 0.25f, 2f, -0.75f];
        using var scope = torch.NewDisposeScope();
        var quantizer = new LegacyAutoPo2Quantizer([8], 3, null) { CollectDiagnostics = true };
        var w = torch.tensor(x).requires_grad_(true);

        var y = quantizer.forward(w);
        (y * torch.tensor(c)).sum().backward();

        // Some codes are clipped (else this test would not tell the identity from the clip-aware estimator) ...
        Assert.Equal([-2L], quantizer.LastDiagnostics!.Exponents);
        Assert.Equal(1.0 / 8, quantizer.LastDiagnostics.ClippedFraction, 12);
        // ... and still every weight receives its whole output gradient (QKeras: x + stop_gradient(xq - x)).
        AssertClose(c.Select(v => (double)v).ToArray(), w.grad!, 0);
    }

    [Fact]
    public void LearnablePo2_RankOnePerElementChannels_GradientPerElementAndDiagnostics()
    {
        // A rank-1 weight with channel axis 0: every element its own channel, nothing to reduce over.
        float[] x = [0.3f, -1.1f, 2.6f];
        float[] c = [1f, 2f, -1f];
        double[] l = [-2.2, -0.4, 0.1]; // ceil: e = [-2, 0, 1]
        using var scope = torch.NewDisposeScope();
        var quantizer = new LearnablePo2Quantizer([3], 4, 0, new LearnablePo2QuantizerOptions { Mode = Po2ExponentMode.Ceil }) { CollectDiagnostics = true };
        quantizer.SetLog2Scale((float)l[0], (float)l[1], (float)l[2]);
        var w = torch.tensor(x).requires_grad_(true);

        (quantizer.forward(w) * torch.tensor(c)).sum().backward();

        var expected = x.Select((v, i) =>
        {
            var s = Math.Pow(2, Math.Ceiling(l[i]));
            var r = v / s;
            var q = Math.Round(r, MidpointRounding.ToEven);
            return c[i] * (Math.Abs(q) > 7 ? Ln2 * s * Math.Sign(q) * 7 : Ln2 * s * (q - r));
        }).ToArray();
        AssertClose(expected, quantizer.Log2Scale.grad!, 1e-6);
        Assert.Equal(3, quantizer.LastDiagnostics!.Msqe.Length);
    }

    internal static void AssertClose(double[] expected, Tensor actual, double rtol)
    {
        var got = actual.to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var tol = rtol * Math.Abs(expected[i]) + (rtol == 0 ? 0 : 1e-7);
            Assert.True(Math.Abs(got[i] - expected[i]) <= tol, $"[{i}] got {got[i]:R}, expected {expected[i]:R}");
        }
    }
}
