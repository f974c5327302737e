using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests;

/// <summary>Tensor comparisons shared by the training tests.</summary>
internal static class TensorAssert
{
    /// <summary>
    /// Equal up to floating-point rounding (e.g. of differently ordered sums): max |expected − actual| ≤
    /// <paramref name="tolerance"/> × max |expected| (at least 1e-12), computed in float64.
    /// </summary>
    public static void Close(Tensor expected, Tensor actual, double tolerance, string what = "")
    {
        using var scope = torch.NewDisposeScope();
        var e = expected.to(ScalarType.Float64);
        double scale = Math.Max(1e-12, e.abs().max().item<double>());
        double error = (e - actual.to(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(error <= tolerance * scale, $"{what}{(what.Length > 0 ? ": " : "")}max |difference| {error:G4} exceeds {tolerance:G2} × max |value| {scale:G4}");
    }

    /// <summary>The same dtype, shape and bits (float32), element by element.</summary>
    public static void SameBits(Tensor expected, Tensor actual, string what = "")
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        var e = expected.detach().contiguous().data<float>().ToArray();
        var a = actual.detach().contiguous().data<float>().ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(e[i]) == BitConverter.SingleToInt32Bits(a[i]), $"{what}[{i}]: expected {e[i]:R}, got {a[i]:R}");
    }
}
