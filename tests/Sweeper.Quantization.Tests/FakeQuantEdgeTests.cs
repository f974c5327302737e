using Sweeper.Quantization.Po2;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// The fused fake-quant kernels (<see cref="FusedKernels.FakeQuantRne"/>, <see cref="FusedKernels.ScaleGradient"/>) at the
/// edges of float32: over every float32 power of two as a step, subnormal ones included, and weights from subnormals to
/// the largest floats, with zeros, infinities and NaN, the codes, masks, outputs and scale gradients are libtorch's ops
/// to the bit (the training tests' weights and steps stay in the middle of the range).
/// </summary>
public sealed class FakeQuantEdgeTests
{
    private const int Qp = 7, N = 43; // 43: five 8-wide passes and a scalar tail per channel

    /// <summary>One channel per power of two 2^−149 … 2^127, each step's weights spread around it and across the float32 range.</summary>
    private static (float[] X, float[] Steps) Channels()
    {
        var steps = Enumerable.Range(-149, 277).Select(e => (float)Math.ScaleB(1.0, e)).ToArray();
        var random = new Random(5);
        var x = new float[steps.Length * N];
        for (int c = 0; c < steps.Length; c++)
            for (int j = 0; j < N; j++)
            {
                double magnitude = j switch
                {
                    < 30 => steps[c] * Math.ScaleB(random.NextDouble() + 0.5, random.Next(-3, 5)), // codes around the clip
                    < 40 => Math.ScaleB(random.NextDouble() + 0.5, random.Next(-150, 128)),       // anywhere in the range
                    40 => 0.0,
                    41 => double.PositiveInfinity,
                    _ => double.NaN,
                };
                x[c * N + j] = (float)(random.Next(2) == 0 ? magnitude : -magnitude);
            }

        // Each channel's values in a random order: every kind reaches the vector passes and the scalar tail.
        for (int c = 0; c < steps.Length; c++)
            random.Shuffle(x.AsSpan(c * N, N));

        return (x, steps);
    }

    [Fact]
    public void FakeQuantRne_EveryPowerOfTwoStep_LibtorchsOpsToTheBit()
    {
        using var scope = torch.NewDisposeScope();
        var (x, steps) = Channels();
        int channels = steps.Length;
        var y = new float[x.Length];
        var notClipped = new bool[x.Length];
        var inside = new bool[x.Length];
        FusedKernels.FakeQuantRne(new FusedKernels.Layout(1, channels, N), x, steps, Qp, y, notClipped, inside);

        var xt = torch.tensor(x, [channels, N]);
        var st = torch.tensor(steps, [channels, 1]);
        var ratio = xt / st;
        var rounded = ratio.round();
        FusedKernelTests.AssertSameBits(rounded.clamp(-Qp, Qp) * st, torch.tensor(y, [channels, N]), "output");
        Assert.Equal(rounded.abs().le(Qp).data<bool>().ToArray(), notClipped);
        Assert.Equal((ratio.ge(-Qp) & ratio.le(Qp)).data<bool>().ToArray(), inside);
    }

    [Fact]
    public void ScaleGradient_EveryPowerOfTwoStep_LibtorchsOpsToTheBit()
    {
        using var scope = torch.NewDisposeScope();
        var (x, steps) = Channels();
        int channels = steps.Length;
        var random = new Random(6);
        var pass = Enumerable.Range(0, x.Length).Select(_ => random.Next(4) != 0).ToArray();
        var g = Enumerable.Range(0, x.Length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var xt = torch.tensor(x, [channels, N]);
        var st = torch.tensor(steps, [channels, 1]);
        var gt = torch.tensor(g, [channels, N]);
        var q = (xt / st).round().clamp(-Qp, Qp);
        var kept = xt * torch.tensor(pass, [channels, N]).to_type(ScalarType.Float32);
        foreach (var log2 in new[] { true, false })
        {
            var result = new float[x.Length];
            FusedKernels.ScaleGradient(new FusedKernels.Layout(1, channels, N), x, steps, pass, g, Qp, log2, result);
            var expected = gt * (log2 ? q * st - kept : q - kept / st);
            FusedKernelTests.AssertSameBits(expected, torch.tensor(result, [channels, N]), log2 ? "log2 scale gradient" : "step gradient");
        }
    }
}
