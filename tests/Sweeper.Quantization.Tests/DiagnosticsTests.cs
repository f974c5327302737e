using Sweeper.Quantization.Po2;
using Sweeper.Quantization.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>The paper's per-layer diagnostics of one quantizer call, against values worked out by hand.</summary>
public sealed class DiagnosticsTests
{
    [Fact]
    public void MsqePo2_ZeroCodesInlierMsqeAndSecondMomentSpread_FromTheFormulas()
    {
        // 3 bits (qp 3), per tensor, no outlier mask in the fit; init exponent from the data: R(log2(4/3)) = 0, so step 1;
        // the least-squares refits and the line search keep it (checked below). Codes: 0.2 -> 0, -0.4 -> 0, 0.6 -> 1,
        // 1.2 -> 1, -2.1 -> -2, 4.0 -> 3 (clipped? R(4.0) = 4 > 3: yes). Diagnostic outliers: |w| > 2·std.
        float[] x = [0.2f, -0.4f, 0.6f, 1.2f, -2.1f, 4.0f];
        using var scope = torch.NewDisposeScope();
        var quantizer = new MsqePo2Quantizer([6], 3, null, new MsqePo2QuantizerOptions { OutlierSigma = null, LineSearch = false, LlsIters = 0, SecondMoments = true })
        {
            CollectDiagnostics = true,
        };
        quantizer.forward(torch.tensor(x));
        var d = quantizer.LastDiagnostics!;

        Assert.Equal([0L], d.Exponents);
        double[] q = [0, 0, 1, 1, -2, 3];
        var err = x.Select((v, i) => (v - q[i]) * (v - q[i])).ToArray();
        double mean = x.Average(v => (double)v);
        double std = Math.Sqrt(x.Average(v => (v - mean) * (v - mean)));
        var outlier = x.Select(v => Math.Abs(v) > 2 * std).ToArray();
        Assert.Equal([false, false, false, false, false, true], outlier); // 4.0 is the only outlier (2·std = 3.63)
        Assert.Equal(2.0 / 6, d.ZeroFraction, 12);
        Assert.Equal(err.Sum(), d.TotalMsqe, 5);
        Assert.Equal(err.Where((_, i) => !outlier[i]).Sum(), d.InlierMsqe, 5);
        Assert.Equal(0.0, d.SecondMomentSpread, 12); // no backward yet: every weight √1
        Assert.True(double.IsNaN(d.Log2ScaleMean));

        // After a backward pass the second moments differ per weight: v = 0.999 + 0.001 g² (g = 0 where clipped).
        var w = torch.tensor(x).requires_grad_(true);
        quantizer.train();
        float[] g = [1f, 2f, 3f, 4f, 5f, 6f];
        (quantizer.forward(w) * torch.tensor(g)).sum().backward();
        quantizer.forward(torch.tensor(x));
        var sqrtV = g.Select((v, i) => Math.Sqrt(0.999 + 0.001 * (i == 5 ? 0 : v * v))).ToArray();
        double m = sqrtV.Average();
        double expectedCv = Math.Sqrt(sqrtV.Average(v => (v - m) * (v - m))) / m;
        Assert.Equal(expectedCv, quantizer.LastDiagnostics!.SecondMomentSpread, 6);
    }

    [Fact]
    public void LearnablePo2_Log2ScaleMean_IsTheMeanOfTheLearnedParameter()
    {
        using var scope = torch.NewDisposeScope();
        var quantizer = new LearnablePo2Quantizer([2, 4], 4, 0, new LearnablePo2QuantizerOptions { Mode = Po2ExponentMode.Ceil }) { CollectDiagnostics = true };
        quantizer.SetLog2Scale(-3.25f, -1.5f);
        quantizer.forward(torch.randn(2, 4));

        Assert.Equal(-2.375, quantizer.LastDiagnostics!.Log2ScaleMean, 6);
        Assert.True(double.IsNaN(quantizer.LastDiagnostics.SecondMomentSpread));
    }
}
