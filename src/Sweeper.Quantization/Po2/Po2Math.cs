using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Po2;

/// <summary>
/// Shared definitions of the golden specification (section 1): EPS, levels, rounding, snap, the
/// channel-matrix layout and batched weighted MSQE. Everything here works on float64 tensors whose
/// integer-valued exponents are also kept as float64 (exact for |e| &lt; 2^53).
/// </summary>
internal static class Po2Math
{
    /// <summary>The Keras backend epsilon, added exactly where the specification says.</summary>
    public const double Eps = 1e-7;

    /// <summary>Smallest and largest bit width accepted.</summary>
    public const int MinBits = 2;

    /// <inheritdoc cref="MinBits"/>
    public const int MaxBits = 8;

    /// <summary>Largest code magnitude of a signed symmetric b-bit quantizer: 2^(b-1) - 1.</summary>
    public static int Qp(int bits) => (1 << (bits - 1)) - 1;

    public static void CheckBits(int bits)
    {
        if (bits < MinBits || bits > MaxBits)
            throw new ArgumentOutOfRangeException(nameof(bits), bits, $"bits must be in {MinBits}..{MaxBits}.");
    }

    public static void CheckAxis(Tensor x, int? channelAxis)
    {
        if (x.numel() == 0) throw new ArgumentException("Cannot quantize an empty tensor.", nameof(x));
        if (channelAxis is int a && (a < 0 || a >= x.dim()))
            throw new ArgumentOutOfRangeException(nameof(channelAxis), a, $"channel axis must be null or in 0..{x.dim() - 1}.");
    }

    /// <summary>Number of channels: 1 for per-tensor, else the size of the channel axis.</summary>
    public static long Channels(long[] shape, int? channelAxis) => channelAxis is int a ? shape[a] : 1;

    /// <summary>
    /// The channel matrix [C, N]: the channel axis moved to the front (its index order kept) and every
    /// other axis flattened in row-major order. Per-tensor gives [1, numel].
    /// </summary>
    public static Tensor ToMatrix(Tensor x, int? channelAxis)
    {
        if (channelAxis is not int a) return x.reshape(1, -1);

        var c = x.size(a);
        return a == 0 ? x.reshape(c, -1) : x.movedim([a], [0]).reshape(c, -1);
    }

    /// <summary>Inverse of <see cref="ToMatrix"/>: back to <paramref name="shape"/>, contiguous.</summary>
    public static Tensor FromMatrix(Tensor m, long[] shape, int? channelAxis)
    {
        if (channelAxis is not int a || a == 0) return m.reshape(shape);

        var moved = new long[shape.Length];
        moved[0] = shape[a];
        for (int i = 0, j = 1; i < shape.Length; i++)
            if (i != a) moved[j++] = shape[i];

        return m.reshape(moved).movedim([0], [a]).contiguous();
    }

    /// <summary>Shape that broadcasts a per-channel vector [C] against a tensor of <paramref name="shape"/>.</summary>
    public static long[] BroadcastShape(long[] shape, int? channelAxis)
    {
        var b = new long[shape.Length];
        Array.Fill(b, 1L);
        if (channelAxis is int a) b[a] = shape[a];

        return b;
    }

    /// <summary>All axes except the channel axis (all axes for per-tensor).</summary>
    public static long[] ReduceDims(int rank, int? channelAxis) =>
        Enumerable.Range(0, rank).Where(i => i != channelAxis).Select(i => (long)i).ToArray();

    /// <summary>log2(v) for a float64 tensor.</summary>
    public static Tensor Log2(Tensor v) => torch.log2(v);

    /// <summary>2^e for an integer-valued float64 tensor (exact: exp2 of an integer is a power of two).</summary>
    public static Tensor Pow2(Tensor e) => torch.exp2(e);

    /// <summary>
    /// 2^e as float32 [C] (the fake quantization's steps): for integer-valued (or NaN, ±∞) exponents written in place, as
    /// <c>exp2(e).to_type(Float32)</c> gives them (an exact power of two, rounded to float32 like any cast), else those ops.
    /// </summary>
    public static Tensor Pow2Float32(Tensor e)
    {
        if (FusedKernels.Applies(e, ScalarType.Float64) && FusedKernels.IntegerValued(FusedKernels.Doubles(e)))
        {
            var result = torch.empty_like(e, ScalarType.Float32); // e is contiguous: so is this
            WritePow2Float32(FusedKernels.Doubles(e), FusedKernels.Floats(result));
            return result;
        }
        return Pow2(e).to_type(ScalarType.Float32).contiguous();
    }

    /// <summary><see cref="Pow2Float32(Tensor)"/> of exponents held in memory (a float64 [C] of them made only where they are not all integer-valued).</summary>
    public static Tensor Pow2Float32(ReadOnlySpan<double> e)
    {
        if (!FusedKernels.IntegerValued(e))
        {
            using var exponents = torch.tensor(e.ToArray(), ScalarType.Float64);
            return Pow2(exponents).to_type(ScalarType.Float32).contiguous(); // Pow2Float32(Tensor)'s own way for these
        }

        var result = torch.empty(e.Length, ScalarType.Float32);
        WritePow2Float32(e, FusedKernels.Floats(result));
        return result;
    }

    private static void WritePow2Float32(ReadOnlySpan<double> e, Span<float> steps)
    {
        for (int i = 0; i < e.Length; i++) steps[i] = (float)FusedKernels.Pow2(e[i]);
    }

    /// <summary>R(v): round half to even.</summary>
    public static Tensor Rint(Tensor v) => torch.round(v);

    /// <summary>snap(s) = R(log2(s + EPS)), applied to s = 2^e.</summary>
    /// <remarks>
    /// For an integer e ≥ −20 this is e (2^e + EPS lies within a factor 1.11 of 2^e, so its log2 rounds back to e), and NaN
    /// stays NaN: such vectors are answered in place of five libtorch calls (the searches snap every step); anything
    /// else takes libtorch's ops.
    /// </remarks>
    public static Tensor SnapExponent(Tensor e)
    {
        if (FusedKernels.Applies(e, ScalarType.Float64) && FusedKernels.SnapsToItself(FusedKernels.Doubles(e)))
            return e.clone();
        return Rint(Log2(Pow2(e).Plus(Eps)));
    }

    /// <summary>Data-driven start R(log2(max|x| / qp + EPS)) per channel row of <paramref name="x"/> [C, N].</summary>
    public static Tensor MaxStart(Tensor x, int qp) => MaxStartFromMax(x.abs().amax([1]), qp);

    /// <summary><see cref="MaxStart"/> from the rows' max |x| [C].</summary>
    public static Tensor MaxStartFromMax(Tensor max, int qp)
    {
        if (FusedKernels.Applies(max, ScalarType.Float64))
        {
            var values = FusedKernels.Doubles(max);
            var result = torch.empty(values.Length, ScalarType.Float64);
            var rounded = FusedKernels.Doubles(result);
            double q = qp;
            for (int c = 0; c < values.Length; c++) rounded[c] = values[c] / q + Eps;
            if (FusedKernels.TryRoundLog2(rounded)) return result;
            result.Dispose();
        }
        return Rint(Log2(max.Over(qp).Plus(Eps)));
    }

    /// <summary>Least-squares exponent R(log2(a / (b + EPS) + EPS)).</summary>
    /// <remarks>Computed in place of five libtorch calls where <see cref="FusedKernels.TryRoundLog2"/> decides every element (the same divisions and sums first).</remarks>
    public static Tensor LeastSquaresExponent(Tensor a, Tensor b)
    {
        if (FusedKernels.Applies(a, ScalarType.Float64) && FusedKernels.Applies(b, ScalarType.Float64) && a.numel() == b.numel())
        {
            var numerators = FusedKernels.Doubles(a);
            var denominators = FusedKernels.Doubles(b);
            var result = torch.empty_like(a, ScalarType.Float64); // a is contiguous: so is this
            var rounded = FusedKernels.Doubles(result);
            for (int c = 0; c < numerators.Length; c++) rounded[c] = numerators[c] / (denominators[c] + Eps) + Eps;
            if (FusedKernels.TryRoundLog2(rounded)) return result;
            result.Dispose();
        }
        return Rint(Log2((a / b.Plus(Eps)).Plus(Eps)));
    }

    /// <summary>Population standard deviation per row of [C, N]: sqrt(mean((x - mean x)^2)).</summary>
    public static Tensor PopulationStd(Tensor x)
    {
        var mean = x.mean([1], keepdim: true);
        return x.Minus(mean).Squared().mean([1]).sqrt();
    }

    /// <summary>RNE codes clamp(R(x / s), -qp, qp); <paramref name="scale"/> broadcasts against x.</summary>
    public static Tensor RneCodes(Tensor x, Tensor scale, int qp) => Rint(x / scale).ClampHeld(-qp, qp);

    /// <summary>RNA codes sign(x) · min(floor(|x| / s + 0.5), qp).</summary>
    public static Tensor RnaCodes(Tensor x, Tensor scale, int qp) =>
        x.sign() * (x.abs() / scale).Plus(0.5).floor().ClampMaxHeld(qp);

    /// <summary>Maximum number of float64 elements one batched candidate evaluation materialises.</summary>
    private const long BatchElementBudget = 1L << 22;

    /// <summary>
    /// Weighted MSQE Σ w (x - RNE(x, 2^e) · 2^e)² for K candidate exponents at once.
    /// <paramref name="x"/> [C, N], <paramref name="w"/> [C, N] or null (ones), <paramref name="e"/> [K, C]; returns [K, C].
    /// <para>
    /// Callers compare only sums produced by one call. Every row is then reduced by the same CPU
    /// kernel over the same row layout, so candidates with identical dequantized values get bitwise
    /// identical sums, which the strict keep-best ties need. (A reduction with a single output element
    /// is split across threads by libtorch, i.e. summed in a different order; chunks therefore never
    /// hold a single output element when there is more than one candidate.)
    /// </para>
    /// </summary>
    public static Tensor WeightedMsqe(Tensor x, Tensor? w, Tensor e, int qp)
    {
        var k = e.size(0);
        var chunk = Math.Max(2L, BatchElementBudget / Math.Max(1L, x.numel()));
        if (k <= chunk) return WeightedMsqeBatch(x, w, e, qp);

        var parts = new List<Tensor>();
        for (long start = 0; start < k;)
        {
            var size = Math.Min(chunk, k - start);
            if (k - start - size == 1) size += 1; // never leave a one-row chunk behind

            parts.Add(WeightedMsqeBatch(x, w, e.narrow(0, start, size), qp));
            start += size;
        }

        return torch.cat(parts, 0);
    }

    private static Tensor WeightedMsqeBatch(Tensor x, Tensor? w, Tensor e, int qp)
    {
        // One [K, C, N] temporary, updated in place (x / 2^e is computed as the exact product x · 2^-e, and
        // (q·2^e − x)² equals (x − q·2^e)² bitwise), per chunk of rows so that it stays in cache.
        var rows = x.size(0);
        if (rows <= RowsPerChunk(rows, x.size(1))) return WeightedMsqeRows(x, w, e, qp);

        var parts = new List<Tensor>();
        foreach (var (start, size) in RowChunks(rows, x.size(1)))
            parts.Add(WeightedMsqeRows(x.narrow(0, start, size), w?.narrow(0, start, size), e.narrow(1, start, size), qp));

        return torch.cat(parts, 1);
    }

    private static Tensor WeightedMsqeRows(Tensor x, Tensor? w, Tensor e, int qp)
    {
        if (FusedKernels.Applies(x, ScalarType.Float64) && (w is null || FusedKernels.Applies(w, ScalarType.Float64)) && e.dtype == ScalarType.Float64)
        {
            // The same elementwise errors in one pass (FusedKernels), summed by the same libtorch call.
            int k = (int)e.size(0), rows = (int)x.size(0), n = (int)x.size(1);
            using var exponents = e.contiguous();
            if (FusedKernels.IntegerValued(FusedKernels.Doubles(exponents)))
            {
                using var errors = torch.empty([k, rows, n], ScalarType.Float64);
                FusedKernels.CandidateErrors(k, rows, n, FusedKernels.Doubles(x), w is null ? default : FusedKernels.Doubles(w), FusedKernels.Doubles(exponents), qp,
                    FusedKernels.Doubles(errors), 0);
                return errors.sum([2]);
            }
        }

        var xs = x.unsqueeze(0);                        // [1, C, N]
        var err = xs.mul(Pow2(e.neg()).unsqueeze(-1)).round_().ClampHeld(-qp, qp).mul_(Pow2(e).unsqueeze(-1)).sub_(xs);
        err.mul_(err); // the square, in place (x·x is what pow(x, 2) computes)
        if (w is not null) err.mul_(w.unsqueeze(0));

        return err.sum([2]);
    }

    /// <summary>Elements per chunk of rows that the searches process at once (a few of them stay in the L2 cache).</summary>
    internal const long ChunkElements = 1L << 15;

    /// <summary>Rows per chunk for rows of <paramref name="rowLength"/> elements: about <see cref="ChunkElements"/> elements, at least 2 rows.</summary>
    internal static long RowsPerChunk(long rows, long rowLength) => Math.Max(2L, ChunkElements / Math.Max(1L, rowLength));

    /// <summary>
    /// Splits <paramref name="rows"/> channel rows into consecutive chunks of <see cref="RowsPerChunk"/> rows, never
    /// leaving a one-row chunk (a reduction over a single row is split across threads by libtorch, i.e. summed in
    /// another order; every chunk of two or more rows reduces each row exactly as the whole matrix would).
    /// </summary>
    internal static IEnumerable<(long Start, long Size)> RowChunks(long rows, long rowLength)
    {
        var size = RowsPerChunk(rows, rowLength);
        for (long start = 0; start < rows;)
        {
            var n = Math.Min(size, rows - start);
            if (rows - start - n == 1) n += 1;

            yield return (start, n);
            start += n;
        }
    }

    /// <summary>RNE codes clamp(R(x / 2^e), -qp, qp) per row of [C, N] for exponents <paramref name="e"/> [C] (x / 2^e as the exact x · 2^-e).</summary>
    public static Tensor RneCodesAt(Tensor x, Tensor e, int qp) => x.mul(Pow2(e.neg()).unsqueeze(1)).round_().ClampHeld(-qp, qp);

    /// <summary>RNA codes sign(x) · min(floor(|x| / 2^e + 0.5), qp) per row of [C, N] for exponents <paramref name="e"/> [C].</summary>
    public static Tensor RnaCodesAt(Tensor x, Tensor e, int qp) =>
        x.abs().mul_(Pow2(e.neg()).unsqueeze(1)).add_(HeldScalars.Half, HeldScalars.One).floor_().ClampMaxInPlaceHeld(qp).mul_(x.sign());

    /// <summary>Elementwise w · (q · 2^e − x)² (= w · (x − q · 2^e)²) of codes <paramref name="q"/> [C, N] at exponents <paramref name="e"/> [C]; <paramref name="w"/> null means ones.</summary>
    public static Tensor SquaredErrorAt(Tensor x, Tensor q, Tensor e, Tensor? w)
    {
        var err = q.mul(Pow2(e).unsqueeze(1)).sub_(x);
        err.mul_(err);
        return w is null ? err : err.mul_(w);
    }

    /// <summary>Σ w (x - dq)² per row; <paramref name="w"/> null means ones.</summary>
    public static Tensor RowSquaredError(Tensor x, Tensor dq, Tensor? w)
    {
        var err = (x - dq).Squared();
        return (w is null ? err : err * w).sum([1]);
    }
}
