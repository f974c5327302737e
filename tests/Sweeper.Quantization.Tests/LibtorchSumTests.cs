using System.Runtime.InteropServices;
using Sweeper.Quantization.Po2;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// <see cref="LibtorchSum"/> against libtorch's own reductions, bit for bit: every row of a matrix (and of a [K, C, N]
/// tensor summed over its last axis, as the searches sum their candidate errors), for lengths that take every branch
/// of the cascade, in float64 and float32, on values over sixty binary orders of magnitude with signed zeros and
/// cancellations mixed in.
/// </summary>
public sealed class LibtorchSumTests
{
    private static double[] Values(int count, int seed)
    {
        var random = new Random(seed);
        var values = new double[count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (i % 7) switch
            {
                0 => -0.0,
                1 => 1e-3 * (random.NextDouble() - 0.5),
                2 => -values[Math.Max(0, i - 2)], // cancels an earlier value
                _ => (random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-30, 30)),
            };
        }
        return values;
    }

    private static void AssertSameBits(double expected, double actual, string what) =>
        Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(actual), $"{what}: libtorch {expected:R}, C# {actual:R}");

    public static TheoryData<int> Lengths()
    {
        var data = new TheoryData<int>();
        foreach (var n in LibtorchSum.ProbeLengths.Concat([100, 300, 481, 1152, 4608, 262147])) data.Add(n);
        return data;
    }

    [Fact]
    public void Verified_OnThisMachine_True() => Assert.True(LibtorchSum.Verified);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Row_EveryRow_SameBitsAsLibtorchSumAndMean(int n)
    {
        int rows = n > 100_000 ? 2 : 4; // more than one output: one output over 32768 elements is reduced in two passes on several threads
        using var scope = torch.NewDisposeScope();
        var values = Values(rows * n, n);
        var doubles = torch.tensor(values, [rows, n], ScalarType.Float64);
        var floats = doubles.to_type(ScalarType.Float32);
        var sums = doubles.sum([1]).data<double>().ToArray();
        var means = doubles.mean([1]).data<double>().ToArray();
        var floatSums = floats.sum([1]).data<float>().ToArray();
        var floatData = floats.data<float>().ToArray();
        for (int r = 0; r < rows; r++)
        {
            var row = values.AsSpan(r * n, n);
            AssertSameBits(sums[r], LibtorchSum.Row(row), $"float64 sum, n = {n}, row {r}");
            AssertSameBits(means[r], LibtorchSum.Mean(row), $"float64 mean, n = {n}, row {r}");
            AssertSameBits(floatSums[r], LibtorchSum.Row(floatData.AsSpan(r * n, n)), $"float32 sum, n = {n}, row {r}");
        }
    }

    [Theory]
    [InlineData(7, 5, 9)]
    [InlineData(7, 13, 96)]
    [InlineData(3, 2, 1)]
    [InlineData(2, 3, 3)]
    public void Row_LastAxisOfThreeDimensions_SameBitsAsLibtorch(int k, int c, int n)
    {
        using var scope = torch.NewDisposeScope();
        var values = Values(k * c * n, k * 1000 + n);
        var sums = torch.tensor(values, [k, c, n], ScalarType.Float64).sum([2]).data<double>().ToArray();
        for (int i = 0; i < k * c; i++)
            AssertSameBits(sums[i], LibtorchSum.Row(values.AsSpan(i * n, n)), $"row {i} of [{k}, {c}, {n}]");
    }
}
