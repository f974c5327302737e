using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Po2;

/// <summary>
/// libtorch's CPU sum of one contiguous row, reproduced addition by addition, so that a kernel can sum what it computes
/// without writing it to a tensor for libtorch to reduce. libtorch reduces the innermost contiguous dimension with its
/// cascade sum (ATen <c>SumKernel.cpp</c>, AVX2 build: vectors of 32 bytes): the row is read as vectors of 4 float64 (8
/// float32), four vectors at a time into four accumulators, whose partial sums are carried up three levels every 16
/// steps; then the leftover vectors, the accumulators folded into the first, the leftover elements from 0, the vector's
/// lanes in order, and the result added to the zero-filled output. Rows shorter than one vector take the scalar form of
/// the same cascade; a row of one element is <c>0 + x</c>. Every reduction over the last axis of a contiguous tensor with
/// more than one output, or fewer elements than libtorch's grain size (32768), is such a row sum per output.
/// <para>
/// <see cref="Verified"/> checks this against libtorch itself once per process (rows of every length that takes another
/// branch, random values over many magnitudes, both dtypes, sum and mean); where it does not match to the bit (another
/// libtorch build, another vector width) callers take libtorch's reductions. A NaN result may carry another NaN's payload.
/// </para>
/// </summary>
internal static class LibtorchSum
{
    /// <summary>libtorch's sum of <paramref name="row"/> (float64).</summary>
    public static double Row(ReadOnlySpan<double> row) => Sum(row);

    /// <summary>libtorch's sum of <paramref name="row"/> (float32, accumulated in float32 as libtorch does).</summary>
    public static float Row(ReadOnlySpan<float> row) => Sum(row);

    /// <summary>libtorch's <c>mean</c> of a row: its sum divided by the length.</summary>
    public static double Mean(ReadOnlySpan<double> row) => Sum(row) / row.Length;

    private static readonly Lazy<bool> Check = new(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether <see cref="Row(ReadOnlySpan{double})"/> and its float32 twin give libtorch's sums here, to the bit.</summary>
    public static bool Verified => Check.Value;

    private static T Sum<T>(ReadOnlySpan<T> row) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = row.Length;
        if (n == 0) return T.Zero;
        if (n == 1) return T.Zero + row[0];
        int width = Vector256<T>.Count;
        if (n < width) return T.Zero + ScalarRowSum(row);

        int vectors = n / width;
        var lanes = VectorRowSum(row, vectors);
        T total = T.Zero;
        for (int k = vectors * width; k < n; k++) total += row[k];
        for (int k = 0; k < width; k++) total += lanes[k];
        return T.Zero + total;
    }

    /// <summary>ATen's <c>CeilLog2</c>: 1 up to 2, else ⌈log2 x⌉.</summary>
    private static int CeilLog2(long x) => x <= 2 ? 1 : 64 - BitOperations.LeadingZeroCount((ulong)(x - 1));

    /// <summary>The cascade's level step: 2^max(4, CeilLog2(size) / 4).</summary>
    private static int LevelPower(long size) => Math.Max(4, CeilLog2(size) / 4);

    /// <summary><c>row_sum</c> over elements: a (−1, 4) view's four column sums by the cascade, the leftovers into the first, folded.</summary>
    private static T ScalarRowSum<T>(ReadOnlySpan<T> row) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = row.Length, rows = n / 4;
        int power = LevelPower(rows);
        long step = 1L << power, mask = step - 1;
        Span<T> acc = stackalloc T[16]; // [level, column]
        acc.Clear();
        long i = 0;
        while (i + step <= rows)
        {
            for (long j = 0; j < step; j++, i++)
                for (int k = 0; k < 4; k++) acc[k] += row[(int)(i * 4) + k];
            for (int level = 1; level < 4; level++)
            {
                for (int k = 0; k < 4; k++)
                {
                    acc[level * 4 + k] += acc[(level - 1) * 4 + k];
                    acc[(level - 1) * 4 + k] = T.Zero;
                }
                if ((i & (mask << (level * power))) != 0) break;
            }
        }
        for (; i < rows; i++)
            for (int k = 0; k < 4; k++) acc[k] += row[(int)(i * 4) + k];
        for (int level = 1; level < 4; level++)
            for (int k = 0; k < 4; k++) acc[k] += acc[level * 4 + k];

        var first = acc[0];
        for (int e = rows * 4; e < n; e++) first += row[e];
        for (int k = 1; k < 4; k++) first += acc[k];
        return first;
    }

    /// <summary><c>row_sum</c> over the row's <paramref name="vectors"/> whole vectors, with four vector accumulators per level.</summary>
    private static Vector256<T> VectorRowSum<T>(ReadOnlySpan<T> row, int vectors) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int width = Vector256<T>.Count;
        ref T start = ref MemoryMarshal.GetReference(row);
        long rows = vectors / 4;
        int power = LevelPower(rows);
        long step = 1L << power, mask = step - 1;
        Vector256<T> a0 = default, a1 = default, a2 = default, a3 = default; // level 0 (one accumulator per column)
        Vector256<T> b0 = default, b1 = default, b2 = default, b3 = default; // level 1
        Vector256<T> c0 = default, c1 = default, c2 = default, c3 = default; // level 2
        Vector256<T> d0 = default, d1 = default, d2 = default, d3 = default; // level 3
        nuint stride = (nuint)(4 * width);
        long i = 0;
        while (i + step <= rows)
        {
            for (long j = 0; j < step; j++, i++) AddRow(ref start, (nuint)i * stride, (nuint)width, ref a0, ref a1, ref a2, ref a3);

            b0 += a0; b1 += a1; b2 += a2; b3 += a3;
            a0 = a1 = a2 = a3 = Vector256<T>.Zero;
            if ((i & (mask << power)) != 0) continue;
            c0 += b0; c1 += b1; c2 += b2; c3 += b3;
            b0 = b1 = b2 = b3 = Vector256<T>.Zero;
            if ((i & (mask << (2 * power))) != 0) continue;
            d0 += c0; d1 += c1; d2 += c2; d3 += c3;
            c0 = c1 = c2 = c3 = Vector256<T>.Zero;
        }
        for (; i < rows; i++) AddRow(ref start, (nuint)i * stride, (nuint)width, ref a0, ref a1, ref a2, ref a3);
        a0 += b0; a1 += b1; a2 += b2; a3 += b3;
        a0 += c0; a1 += c1; a2 += c2; a3 += c3;
        a0 += d0; a1 += d1; a2 += d2; a3 += d3;

        for (long v = rows * 4; v < vectors; v++) a0 += Vector256.LoadUnsafe(ref start, (nuint)(v * width));
        a0 += a1;
        a0 += a2;
        a0 += a3;
        return a0;
    }

    /// <summary>One step of the level-0 accumulators: the four vectors from <paramref name="at"/> on, one into each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow<T>(ref T start, nuint at, nuint width, ref Vector256<T> a0, ref Vector256<T> a1, ref Vector256<T> a2, ref Vector256<T> a3)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        a0 += Vector256.LoadUnsafe(ref start, at);
        a1 += Vector256.LoadUnsafe(ref start, at + width);
        a2 += Vector256.LoadUnsafe(ref start, at + 2 * width);
        a3 += Vector256.LoadUnsafe(ref start, at + 3 * width);
    }

    /// <summary>Row lengths whose sums take every branch: each short length, vector and cascade boundaries, and long rows.</summary>
    internal static IReadOnlyList<int> ProbeLengths { get; } =
        [.. Enumerable.Range(1, 80), 127, 128, 129, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097, 16385, 65537, 70001];

    private static bool Probe()
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var random = new Random(20261206);
            foreach (var n in ProbeLengths)
            {
                int rows = n < 1000 ? 3 : 2;
                var values = new double[rows * n];
                for (int i = 0; i < values.Length; i++)
                    values[i] = (random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-30, 30));
                var doubles = torch.tensor(values, [rows, n], ScalarType.Float64);
                var floats = doubles.to_type(ScalarType.Float32);
                if (!Matches<double>(doubles, doubles.sum([1]), mean: false) || !Matches<double>(doubles, doubles.mean([1]), mean: true)
                    || !Matches<float>(floats, floats.sum([1]), mean: false))
                    return false;
            }
            return true;
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    private static bool SameBits<T>(T a, T b) where T : unmanaged =>
        MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref a, 1)).SequenceEqual(MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref b, 1)));

    private static bool Matches<T>(Tensor matrix, Tensor expected, bool mean) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int rows = (int)matrix.size(0), n = (int)matrix.size(1);
        var data = MemoryMarshal.Cast<byte, T>(matrix.bytes);
        var want = MemoryMarshal.Cast<byte, T>(expected.bytes);
        for (int r = 0; r < rows; r++)
        {
            var sum = Sum<T>(data.Slice(r * n, n));
            if (mean) sum /= T.CreateChecked(n);
            if (!SameBits(sum, want[r]) && !(T.IsNaN(sum) && T.IsNaN(want[r]))) return false;
        }
        return true;
    }
}
