using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Po2;

/// <summary>
/// Single-pass CPU kernels for the weight fake quantization and the per-element parts of the exponent searches. Each
/// loop performs, element by element, exactly the IEEE operations of the libtorch op chain it replaces (same operands,
/// same order, same dtype; RNE rounding, NaN-propagating clamps, libtorch's <c>sign</c>), so its results are bitwise
/// those of the reference path (with AVX2, 4 or 8 elements at a time with the instructions libtorch's AVX2 kernels use:
/// <c>vroundp*</c> for R and floor, <c>min(hi, max(lo, v))</c> for clamp); reductions stay in libtorch (the caller sums what a kernel writes) so that every sum is
/// taken in libtorch's order. Tensors are read and written in place through their native memory: the kernels apply to
/// contiguous CPU tensors of the expected dtype only (<see cref="Applies"/>); everything else takes the reference path.
/// </summary>
internal static class FusedKernels
{
    /// <summary>
    /// Take the reference (libtorch op chain) path on this thread even where the kernels apply: for tests that compare
    /// both paths.
    /// </summary>
    [ThreadStatic]
    internal static bool ReferenceOnly;

    /// <summary>
    /// Sum with libtorch on this thread where <see cref="RowSumsApply"/> would allow <see cref="LibtorchSum"/>: for tests of
    /// the paths taken where it does not reproduce libtorch's sums.
    /// </summary>
    [ThreadStatic]
    internal static bool RowSumsOff;

    /// <summary>Set by tests (this thread only) to run as where libtorch's <c>sqrt</c> is not close to the correctly rounded one (<see cref="SqrtCloseVerified"/> false).</summary>
    [ThreadStatic]
    internal static bool OwnRootsOff;

    /// <summary>Whether the fused kernels apply to <paramref name="t"/>: a contiguous CPU tensor of <paramref name="dtype"/>.</summary>
    public static bool Applies(Tensor t, ScalarType dtype) =>
        !ReferenceOnly && t.device_type == DeviceType.CPU && t.dtype == dtype && t.is_contiguous() && t.numel() < int.MaxValue / 8;

    /// <summary>
    /// Whether the per-output sums of a reduction over the last axis of a contiguous [<paramref name="rows"/>, <paramref name="n"/>]
    /// tensor may be taken with <see cref="LibtorchSum"/>: it reproduces libtorch's sums here, and this is not a single output
    /// over libtorch's grain size (32768) with several threads, which libtorch reduces in two passes split between them.
    /// </summary>
    public static bool RowSumsApply(long rows, long n) =>
        !ReferenceOnly && !RowSumsOff && LibtorchSum.Verified && (rows >= 2 || n < 32768 || torch.get_num_threads() == 1);

    /// <summary>The elements of a contiguous CPU float32 tensor.</summary>
    public static Span<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);

    /// <summary>The elements of a contiguous CPU float64 tensor.</summary>
    public static Span<double> Doubles(Tensor t) => MemoryMarshal.Cast<byte, double>(t.bytes);

    /// <summary>The elements of a contiguous CPU int64 tensor.</summary>
    public static Span<long> Longs(Tensor t) => MemoryMarshal.Cast<byte, long>(t.bytes);

    /// <summary>The elements of a contiguous CPU bool tensor.</summary>
    public static Span<bool> Bools(Tensor t) => MemoryMarshal.Cast<byte, bool>(t.bytes);

    /// <summary>
    /// The layout of a weight against its per-channel values: <c>Outer</c> blocks of <c>Channels</c> runs of <c>Inner</c>
    /// contiguous elements each (channel axis a: Outer = Π dims before a, Inner = Π dims after a; per-tensor: one channel).
    /// </summary>
    public readonly record struct Layout(int Outer, int Channels, int Inner)
    {
        public static Layout Of(long[] shape, int? channelAxis)
        {
            if (channelAxis is not int a) return new Layout(1, 1, (int)shape.Aggregate(1L, (p, d) => p * d));

            long outer = 1, inner = 1;
            for (int i = 0; i < a; i++) outer *= shape[i];
            for (int i = a + 1; i < shape.Length; i++) inner *= shape[i];
            return new Layout((int)outer, (int)shape[a], (int)inner);
        }
    }

    /// <summary>Whether the AVX2 loops are used (else the scalar loops, with the same results).</summary>
    private static readonly bool Vector = Avx2.IsSupported && Bmi2.X64.IsSupported;

    /// <summary>
    /// Whether the candidate-error loops also run 8 float64 at a time (AVX-512: <c>vrndscalepd</c> with the same
    /// round-to-nearest-even, <c>vminpd</c>/<c>vmaxpd</c> with the same NaN rule), before their 4-wide and scalar tails.
    /// </summary>
    private static readonly bool Wide = Vector && Avx512F.IsSupported;

    /// <summary>AVX-512 <see cref="Clamp(Vector256{double}, Vector256{double}, Vector256{double})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Clamp(Vector512<double> v, Vector512<double> lo, Vector512<double> hi) => Avx512F.Min(hi, Avx512F.Max(lo, v));

    /// <summary>The steps 2^e and their inverses 2^−e of row <paramref name="c"/>'s K candidate exponents [K, C], interleaved.</summary>
    private static void CandidateSteps(ReadOnlySpan<double> exponents, int k, int rows, int c, Span<double> steps)
    {
        for (int j = 0; j < k; j++)
        {
            steps[2 * j] = Pow2(exponents[j * rows + c]);
            steps[2 * j + 1] = Pow2(-exponents[j * rows + c]);
        }
    }

    /// <summary>The weighted squared error of 4 elements at one candidate: <c>((clamp(R(v · inv), −qp, qp) · step − v)²) · w</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Error(Vector256<double> v, double inv, double step, Vector256<double> lo, Vector256<double> hi, bool weighted, Vector256<double> w)
    {
        var err = Avx.Subtract(Avx.Multiply(Clamp(Avx.RoundToNearestInteger(Avx.Multiply(v, Vector256.Create(inv))), lo, hi), Vector256.Create(step)), v);
        err = Avx.Multiply(err, err);
        return weighted ? Avx.Multiply(err, w) : err;
    }

    /// <summary>The weighted squared error of one element at one candidate (the loops' scalar tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Error(double v, double inv, double step, double qp, bool weighted, double w)
    {
        double err = Clamp(Math.Round(v * inv), qp) * step - v;
        err *= err;
        return weighted ? err * w : err;
    }

    /// <summary>The weighted squared error of 8 elements at one candidate: <c>((clamp(R(v · inv), −qp, qp) · step − v)²) · w</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Error(Vector512<double> v, double inv, double step, Vector512<double> lo, Vector512<double> hi, bool weighted, Vector512<double> w)
    {
        var err = Avx512F.Subtract(Avx512F.Multiply(Clamp(Avx512F.RoundScale(Avx512F.Multiply(v, Vector512.Create(inv)), 8), lo, hi), Vector512.Create(step)), v);
        err = Avx512F.Multiply(err, err);
        return weighted ? Avx512F.Multiply(err, w) : err;
    }

    /// <summary>
    /// 2^e for an integer-valued (or NaN, ±∞) float64 e, as libtorch's <c>exp2</c> gives it: an exact power of two, 0 below
    /// the subnormal range, ∞ above the finite range.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Pow2(double e) =>
        e >= -1022 && e < 1024 ? BitConverter.Int64BitsToDouble((long)((int)e + 1023) << 52) : Pow2OutsideNormals(e); // a normal power: its exponent field

    private static double Pow2OutsideNormals(double e) =>
        double.IsNaN(e) ? double.NaN : e >= 1024 ? double.PositiveInfinity : e <= -1075 ? 0.0 : Math.ScaleB(1.0, (int)e);

    /// <summary>Whether every value is an integer, NaN or ±∞ (what <see cref="Pow2(double)"/> computes exactly).</summary>
    public static bool IntegerValued(ReadOnlySpan<double> values)
    {
        foreach (var v in values)
            if (double.IsFinite(v) && v != Math.Floor(v)) return false;
        return true;
    }

    /// <summary>Whether every value is finite and within int64's range, where a cast truncates as libtorch's <c>to_type(Int64)</c> does.</summary>
    public static bool AllInt64(ReadOnlySpan<double> values)
    {
        foreach (var v in values)
            if (!(v > -9.2233720368547758E18 && v < 9.2233720368547758E18)) return false;
        return true;
    }

    /// <summary>
    /// R(log2(v)) where it does not depend on whose log2 it is: NaN → NaN, +∞ → +∞, and a normal v &gt; 0 whose log2 is
    /// not within 1e-6 of a half-integer (.NET's and libtorch's log2 are both within a few ULP of the true value, so
    /// they round to the same integer there). False for anything else: the caller takes libtorch's ops.
    /// </summary>
    public static bool TryRoundLog2(double v, out double result) => TryRoundLog2(v, out result, 1e-6);

    /// <summary>
    /// <see cref="TryRoundLog2(double, out double)"/> with another distance from a half-integer below which it hands
    /// over (at least 1e-6: a caller whose v may differ from the reference's by a known amount widens it by that).
    /// </summary>
    public static bool TryRoundLog2(double v, out double result, double margin)
    {
        result = v;
        if (double.IsNaN(v) || double.IsPositiveInfinity(v)) return true;
        if (!(v >= 2.2250738585072014E-308) || !double.IsFinite(v)) return false; // normal and finite
        double y = Math.Log2(v);
        if (Math.Abs(y - Math.Floor(y) - 0.5) < margin) return false;
        result = Math.Round(y, MidpointRounding.ToEven);
        return true;
    }

    /// <summary>
    /// <see cref="TryRoundLog2(double, out double)"/> of every value, in place; false (values left partly rounded) as soon
    /// as one is not decided: the caller then takes libtorch's ops for the whole vector.
    /// </summary>
    public static bool TryRoundLog2(Span<double> values)
    {
        foreach (ref var v in values)
            if (!TryRoundLog2(v, out v)) return false;
        return true;
    }

    /// <summary>Whether snap(2^e) = e for every value: NaN, or an integer in −20 … 1000 (where 2^e + EPS keeps its log2 within 0.15 above e).</summary>
    public static bool SnapsToItself(ReadOnlySpan<double> exponents)
    {
        foreach (var e in exponents)
            if (!double.IsNaN(e) && !(e >= -20 && e <= 1000 && e == Math.Floor(e))) return false;
        return true;
    }

    /// <summary>Whether two spans hold equal values (NaN never equals), as libtorch's <c>eq(...).all()</c>.</summary>
    public static bool AllEqual(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        for (int i = 0; i < a.Length; i++)
            if (!(a[i] == b[i])) return false;
        return true;
    }

    /// <summary>libtorch's float <c>sign</c>: 1, −1, or +0 for ±0 and NaN.</summary>
    private static float Sign(float x) => (x > 0 ? 1f : 0f) - (x < 0 ? 1f : 0f);

    /// <inheritdoc cref="Sign(float)"/>
    private static double Sign(double x) => (x > 0 ? 1.0 : 0.0) - (x < 0 ? 1.0 : 0.0);

    /// <summary>libtorch's NaN-propagating <c>clamp(v, −qp, qp)</c>.</summary>
    private static float Clamp(float v, float qp) => v < -qp ? -qp : v > qp ? qp : v;

    /// <inheritdoc cref="Clamp(float, float)"/>
    private static double Clamp(double v, double qp) => v < -qp ? -qp : v > qp ? qp : v;

    /// <summary>libtorch's AVX2 <c>clamp</c>: <c>min(hi, max(lo, v))</c> (a NaN v is the second operand of both, so it propagates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Clamp(Vector256<float> v, Vector256<float> lo, Vector256<float> hi) => Avx.Min(hi, Avx.Max(lo, v));

    /// <inheritdoc cref="Clamp(Vector256{float}, Vector256{float}, Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Clamp(Vector256<double> v, Vector256<double> lo, Vector256<double> hi) => Avx.Min(hi, Avx.Max(lo, v));

    /// <summary>Writes the 8 lanes of a comparison mask as bools.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMask(Vector256<float> mask, ref bool destination) =>
        Unsafe.WriteUnaligned(ref Unsafe.As<bool, byte>(ref destination), Bmi2.X64.ParallelBitDeposit((ulong)(uint)Avx.MoveMask(mask), 0x0101010101010101UL));

    /// <summary>8 bools as 8 floats 0 or 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LoadMask(ref readonly bool source) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<bool, byte>(ref Unsafe.AsRef(in source)))).AsByte()));

    /// <summary>
    /// RNE fake quantization with step <paramref name="s"/> per channel (float32 [C]):
    /// <c>r = R(x / s)</c>, <c>y = clamp(r, −qp, qp) · s</c>; <paramref name="notClipped"/> = <c>|r| ≤ qp</c>, and
    /// <paramref name="inside"/> (optional) = <c>−qp ≤ x / s ≤ qp</c> (LSQ's gradient mask).
    /// </summary>
    public static void FakeQuantRne(Layout layout, ReadOnlySpan<float> x, ReadOnlySpan<float> s, int qp, Span<float> y, Span<bool> notClipped, Span<bool> inside)
    {
        float q = qp;
        bool withInside = !inside.IsEmpty;
        int i = 0;
        var hi = Vector256.Create(q);
        var lo = Vector256.Create(-q);
        var signBit = Vector256.Create(-0f);
        for (int o = 0; o < layout.Outer; o++)
            for (int c = 0; c < layout.Channels; c++)
            {
                float step = s[c];
                int end = i + layout.Inner;
                if (Vector)
                {
                    var vs = Vector256.Create(step);
                    for (; i + 8 <= end; i += 8)
                    {
                        var ratio = Avx.Divide(Vector256.LoadUnsafe(in x[i]), vs);
                        var rounded = Avx.RoundToNearestInteger(ratio);
                        StoreMask(Avx.CompareLessThanOrEqual(Avx.AndNot(signBit, rounded), hi), ref notClipped[i]);
                        Avx.Multiply(Clamp(rounded, lo, hi), vs).StoreUnsafe(ref y[i]);
                        if (withInside) StoreMask(Avx.And(Avx.CompareGreaterThanOrEqual(ratio, lo), Avx.CompareLessThanOrEqual(ratio, hi)), ref inside[i]);
                    }
                }
                for (; i < end; i++)
                {
                    float ratio = x[i] / step;
                    float rounded = MathF.Round(ratio);
                    notClipped[i] = MathF.Abs(rounded) <= q;
                    y[i] = Clamp(rounded, q) * step;
                    if (withInside) inside[i] = ratio >= -q && ratio <= q;
                }
            }
    }

    /// <summary>
    /// The per-element scale gradient of <c>LearnedScaleSte</c>: with <c>q = clamp(R(x / s), −qp, qp)</c> and
    /// <c>in = x · pass</c>, <c>g · (q · s − in)</c> for a log2 parameter, else <c>g · (q − in / s)</c>.
    /// </summary>
    public static void ScaleGradient(Layout layout, ReadOnlySpan<float> x, ReadOnlySpan<float> s, ReadOnlySpan<bool> pass, ReadOnlySpan<float> g, int qp, bool log2, Span<float> result)
    {
        float qf = qp;
        int i = 0;
        var hi = Vector256.Create(qf);
        var lo = Vector256.Create(-qf);
        for (int o = 0; o < layout.Outer; o++)
            for (int c = 0; c < layout.Channels; c++)
            {
                float step = s[c];
                int end = i + layout.Inner;
                if (Vector)
                {
                    var vs = Vector256.Create(step);
                    for (; i + 8 <= end; i += 8)
                    {
                        var v = Vector256.LoadUnsafe(in x[i]);
                        var q = Clamp(Avx.RoundToNearestInteger(Avx.Divide(v, vs)), lo, hi);
                        var inside = Avx.Multiply(v, LoadMask(in pass[i]));
                        var term = log2 ? Avx.Subtract(Avx.Multiply(q, vs), inside) : Avx.Subtract(q, Avx.Divide(inside, vs));
                        Avx.Multiply(Vector256.LoadUnsafe(in g[i]), term).StoreUnsafe(ref result[i]);
                    }
                }
                for (; i < end; i++)
                {
                    float q = Clamp(MathF.Round(x[i] / step), qf);
                    float inside = x[i] * (pass[i] ? 1f : 0f);
                    float term = log2 ? q * step - inside : q - inside / step;
                    result[i] = g[i] * term;
                }
            }
    }

    /// <summary>float32 values widened to float64 (exactly, as libtorch's conversion does) into the start of <paramref name="result"/>.</summary>
    public static void Widen(ReadOnlySpan<float> x, Span<double> result)
    {
        int i = 0, n = x.Length;
        if (Vector)
            for (; i + 4 <= n; i += 4)
                Avx.ConvertToVector256Double(Vector128.LoadUnsafe(in x[i])).StoreUnsafe(ref result[i]);
        for (; i < n; i++) result[i] = x[i];
    }

    /// <summary>
    /// The second-moment EMA in place: <c>v ← fma(g · g · pass, (float)(1 − d), v · (float)d)</c>, what libtorch's
    /// <c>v.mul_(d).add_(g.pow(2).mul(pass), alpha: 1 − d)</c> computes on float32 (its scalars cast to float32, its
    /// <c>add</c> with alpha a fused multiply-add in its vector loop and its scalar tail alike: checked once per process,
    /// <see cref="SecondMomentVerified"/>).
    /// </summary>
    public static void SecondMoment(Span<float> v, ReadOnlySpan<float> g, ReadOnlySpan<bool> pass, double decay)
    {
        float keep = (float)decay, take = (float)(1.0 - decay);
        int i = 0, n = v.Length;
        if (Vector && Fma.IsSupported)
        {
            var vkeep = Vector256.Create(keep);
            var vtake = Vector256.Create(take);
            for (; i + 8 <= n; i += 8)
            {
                var gi = Vector256.LoadUnsafe(in g[i]);
                var t = Avx.Multiply(Avx.Multiply(gi, gi), LoadMask(in pass[i]));
                Fma.MultiplyAdd(t, vtake, Avx.Multiply(Vector256.LoadUnsafe(ref v[i]), vkeep)).StoreUnsafe(ref v[i]);
            }
        }
        for (; i < n; i++)
            v[i] = MathF.FusedMultiplyAdd(g[i] * g[i] * (pass[i] ? 1f : 0f), take, v[i] * keep);
    }

    private static readonly Lazy<bool> SecondMomentCheck = new(ProbeSecondMoment, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether <see cref="SecondMoment"/> gives libtorch's bits here (compared once on 1,000 random elements of every magnitude).</summary>
    public static bool SecondMomentVerified => SecondMomentCheck.Value;

    private static readonly Lazy<bool> SqrtCheck = new(ProbeSqrt, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Whether libtorch's float32 <c>sqrt</c> lies within 2 ULP of the correctly rounded root here (it is not correctly
    /// rounded in this build: about one random moment in six is 1 ULP off), compared once on 4,000 moments from
    /// subnormals to 2^127: what <see cref="PairChoices"/> needs to screen with its own roots of second moments.
    /// </summary>
    public static bool SqrtCloseVerified => !OwnRootsOff && SqrtCheck.Value;

    private static bool ProbeSqrt()
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var random = new Random(20261207);
            var v = new float[4000];
            for (int i = 0; i < v.Length; i++)
                v[i] = i % 10 == 0 ? BitConverter.Int32BitsToSingle(random.Next(1, 1 << 23)) : (float)Math.ScaleB(1 + random.NextDouble(), random.Next(-126, 127));
            var roots = Floats(torch.tensor(v).sqrt());
            for (int i = 0; i < v.Length; i++)
                if (Math.Abs(BitConverter.SingleToInt32Bits(roots[i]) - BitConverter.SingleToInt32Bits(MathF.Sqrt(v[i]))) > 2) return false;
            return true;
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>libtorch's float32 square roots of <paramref name="moments"/> (the reference's second-moment weights), into <paramref name="roots"/>.</summary>
    private static void LibtorchRoots(ReadOnlySpan<float> moments, Span<float> roots)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Floats(torch.tensor(moments.ToArray()).sqrt()).CopyTo(roots);
    }

    private static bool ProbeSecondMoment()
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var random = new Random(20261206);
            const int n = 1003;
            var v = new float[n];
            var g = new float[n];
            var pass = new bool[n];
            for (int i = 0; i < n; i++)
            {
                v[i] = (float)(random.NextDouble() * Math.Pow(2, random.Next(-24, 8)));
                g[i] = (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-24, 8)));
                pass[i] = random.Next(4) != 0;
            }
            var expected = torch.tensor(v);
            Training.Po2WeightQuantizer.LibtorchSecondMoment(expected, 0.999, torch.tensor(g), torch.tensor(pass));
            SecondMoment(v, g, pass, 0.999);
            return MemoryMarshal.AsBytes(v.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(Floats(expected))); // bitwise
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The straight-through weight gradient <c>g · pass</c> (pass as 0 or 1, so a NaN or ±∞ g gives NaN where it is 0, as libtorch's product does).</summary>
    public static void MaskGradient(ReadOnlySpan<float> g, ReadOnlySpan<bool> pass, Span<float> result)
    {
        int i = 0, n = g.Length;
        if (Vector)
            for (; i + 8 <= n; i += 8)
                Avx.Multiply(Vector256.LoadUnsafe(in g[i]), LoadMask(in pass[i])).StoreUnsafe(ref result[i]);
        for (; i < n; i++) result[i] = g[i] * (pass[i] ? 1f : 0f);
    }

    /// <summary>
    /// <paramref name="sum"/> += <c>g · pass</c> in place: what autograd's gradient accumulation does with
    /// <see cref="MaskGradient"/>'s result (a float32 addition of each product to the gradient already there).
    /// </summary>
    public static void AddMaskGradient(ReadOnlySpan<float> g, ReadOnlySpan<bool> pass, Span<float> sum)
    {
        int i = 0, n = g.Length;
        if (Vector)
            for (; i + 8 <= n; i += 8)
                Avx.Add(Vector256.LoadUnsafe(ref sum[i]), Avx.Multiply(Vector256.LoadUnsafe(in g[i]), LoadMask(in pass[i]))).StoreUnsafe(ref sum[i]);
        for (; i < n; i++) sum[i] += g[i] * (pass[i] ? 1f : 0f);
    }

    /// <summary>
    /// <paramref name="values"/> ·= <paramref name="factor"/> in place: libtorch's <c>mul_</c> of a float32 tensor by a
    /// scalar, whose kernel multiplies in float32 by the scalar cast to float32 (a few elements, one call: a libtorch call
    /// costs microseconds).
    /// </summary>
    public static void Scale(Span<float> values, float factor)
    {
        for (int i = 0; i < values.Length; i++) values[i] *= factor;
    }

    /// <summary>
    /// <paramref name="sum"/> += <paramref name="values"/> · <paramref name="factor"/> in place, each product rounded to
    /// float32 before the addition: <see cref="Scale"/>'s product added as autograd's gradient accumulation adds it.
    /// </summary>
    public static void AddScaled(ReadOnlySpan<float> values, float factor, Span<float> sum)
    {
        if (values.Length != sum.Length) throw new ArgumentException($"{values.Length} values for a sum of {sum.Length}.", nameof(sum));
        for (int i = 0; i < values.Length; i++)
        {
            float product = values[i] * factor;
            sum[i] += product;
        }
    }

    /// <summary>
    /// The backward pass of a learned scale for a weight whose channels are rows (a layout with Outer = 1): the weight
    /// gradient <c>g · pass</c> (<see cref="MaskGradient"/>) and each row's sum of the per-element scale gradient
    /// (<see cref="ScaleGradient"/>, formed in <paramref name="scratch"/>, one row long) in libtorch's order
    /// (<see cref="LibtorchSum"/>): what the reference's product and <c>sum</c> over the non-channel axes give, without
    /// the weight-sized per-element tensor. With <paramref name="addToGradient"/>, the weight gradient is added into
    /// <paramref name="gradWeight"/> (<see cref="AddMaskGradient"/>) instead of written.
    /// </summary>
    public static void LearnedScaleBackwardRows(Layout layout, ReadOnlySpan<float> x, ReadOnlySpan<float> s, ReadOnlySpan<bool> pass, ReadOnlySpan<float> g, int qp, bool log2,
        Span<float> gradWeight, Span<float> channelSums, Span<float> scratch, bool addToGradient = false)
    {
        int n = layout.Inner;
        var row = new Layout(1, 1, n);
        for (int c = 0; c < layout.Channels; c++)
        {
            int at = c * n;
            ScaleGradient(row, x.Slice(at, n), s.Slice(c, 1), pass.Slice(at, n), g.Slice(at, n), qp, log2, scratch);
            if (addToGradient) AddMaskGradient(g.Slice(at, n), pass.Slice(at, n), gradWeight.Slice(at, n));
            else MaskGradient(g.Slice(at, n), pass.Slice(at, n), gradWeight.Slice(at, n));
            channelSums[c] = LibtorchSum.Row((ReadOnlySpan<float>)scratch);
        }
    }

    /// <summary>
    /// legacy_auto_po2's RNA fake quantization: <c>m = floor(|x| / s64 + 0.5)</c> in float64 with the float64 step
    /// <paramref name="s64"/>, <c>y = (sign(x) · (float)min(m, qp)) · s32</c>; <paramref name="notClipped"/> = <c>m ≤ qp</c>.
    /// </summary>
    public static void FakeQuantRna(Layout layout, ReadOnlySpan<float> x, ReadOnlySpan<double> s64, ReadOnlySpan<float> s32, int qp, Span<float> y, Span<bool> notClipped)
    {
        int i = 0;
        var vqp = Vector256.Create((double)qp);
        var half = Vector256.Create(0.5);
        var signBit = Vector256.Create(-0.0);
        var zero = Vector128<float>.Zero;
        var one = Vector128.Create(1f);
        for (int o = 0; o < layout.Outer; o++)
            for (int c = 0; c < layout.Channels; c++)
            {
                double step = s64[c];
                float step32 = s32[c];
                int end = i + layout.Inner;
                if (Vector)
                {
                    var vs = Vector256.Create(step);
                    var vs32 = Vector128.Create(step32);
                    for (; i + 4 <= end; i += 4)
                    {
                        var v = Vector128.LoadUnsafe(in x[i]);
                        var magnitude = Avx.RoundToNegativeInfinity(Avx.Add(Avx.Divide(Avx.AndNot(signBit, Avx.ConvertToVector256Double(v)), vs), half));
                        var bits = Avx.MoveMask(Avx.CompareLessThanOrEqual(magnitude, vqp));
                        for (int j = 0; j < 4; j++) notClipped[i + j] = ((bits >> j) & 1) != 0;
                        var sign = Sse.Subtract(Sse.And(Sse.CompareLessThan(zero, v), one), Sse.And(Sse.CompareLessThan(v, zero), one));
                        Sse.Multiply(Sse.Multiply(sign, Avx.ConvertToVector128Single(Avx.Min(vqp, magnitude))), vs32).StoreUnsafe(ref y[i]);
                    }
                }
                for (; i < end; i++)
                {
                    double magnitude = Math.Floor(Math.Abs((double)x[i]) / step + 0.5);
                    notClipped[i] = magnitude <= qp;
                    y[i] = Sign(x[i]) * (float)Math.Min(magnitude, qp) * step32;
                }
            }
    }

    /// <summary>
    /// One least-squares refit of legacy_auto_po2 on the channel matrix x [C, N] (float64, or a float32 weight whose
    /// memory is that matrix: each element widened exactly, as the reference's float64 copy holds it) with RNA codes at
    /// the steps 2^e for the exponents <paramref name="exponents"/> [C] (integer-valued):
    /// <c>z = min(floor(|x| · inverse + 0.5), qp) · sign(x)</c>; writes <c>x · z</c> and <c>z · z</c> (the caller takes their means).
    /// </summary>
    public static void RnaProducts<T>(int rows, int n, ReadOnlySpan<T> x, ReadOnlySpan<double> exponents, int qp, Span<double> xz, Span<double> zz)
        where T : unmanaged
    {
        int i = 0;
        var vqp = Vector256.Create((double)qp);
        var half = Vector256.Create(0.5);
        var signBit = Vector256.Create(-0.0);
        var zero = Vector256<double>.Zero;
        var one = Vector256.Create(1.0);
        for (int c = 0; c < rows; c++)
        {
            double inv = Pow2(-exponents[c]);
            int end = i + n;
            if (Vector)
            {
                var vinv = Vector256.Create(inv);
                for (; i + 4 <= end; i += 4)
                {
                    var v = Load4(x, i);
                    var magnitude = Avx.Min(vqp, Avx.RoundToNegativeInfinity(Avx.Add(Avx.Multiply(Avx.AndNot(signBit, v), vinv), half)));
                    var sign = Avx.Subtract(Avx.And(Avx.CompareLessThan(zero, v), one), Avx.And(Avx.CompareLessThan(v, zero), one));
                    var z = Avx.Multiply(magnitude, sign);
                    Avx.Multiply(v, z).StoreUnsafe(ref xz[i]);
                    Avx.Multiply(z, z).StoreUnsafe(ref zz[i]);
                }
            }
            for (; i < end; i++)
            {
                double v = Load1(x, i);
                double z = Math.Min(Math.Floor(Math.Abs(v) * inv + 0.5), qp) * Sign(v);
                xz[i] = v * z;
                zz[i] = z * z;
            }
        }
    }

    /// <summary>max |x| per row of a float32 weight whose memory is its channel matrix [C, N], widened to float64, NaN when the row holds one: the reference's <c>x.abs().amax([1])</c> of the float64 copy.</summary>
    public static void RowAbsMax(int rows, int n, ReadOnlySpan<float> x, Span<double> result)
    {
        for (int c = 0, i = 0; c < rows; c++)
        {
            float max = 0f;
            bool nan = false;
            for (int end = i + n; i < end; i++)
            {
                float a = MathF.Abs(x[i]);
                if (float.IsNaN(a)) nan = true;
                else if (a > max) max = a;
            }
            result[c] = nan ? double.NaN : max;
        }
    }

    /// <summary>Four elements from i on as float64 (float32 widened exactly).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Load4<T>(ReadOnlySpan<T> x, int i) where T : unmanaged =>
        typeof(T) == typeof(float)
            ? Avx.ConvertToVector256Double(Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(x)), (nuint)i))
            : Vector256.LoadUnsafe(ref Unsafe.As<T, double>(ref MemoryMarshal.GetReference(x)), (nuint)i);

    /// <summary>Element i as float64 (float32 widened exactly).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Load1<T>(ReadOnlySpan<T> x, int i) where T : unmanaged =>
        typeof(T) == typeof(float) ? Unsafe.As<T, float>(ref Unsafe.AsRef(in x[i])) : Unsafe.As<T, double>(ref Unsafe.AsRef(in x[i]));

    /// <summary>
    /// For RNE codes <c>q = clamp(R(x · 2^−e), −qp, qp)</c> at one integer-valued exponent e per row of x [C, N]
    /// (<paramref name="exponents"/> [C], step = 2^e) and weights w (empty: none): writes the weighted squared error <c>((q · step − x)²) · w</c> into
    /// <paramref name="error"/> and, with <c>wq = w · q</c> (or q), the least-squares products <c>wq · x</c> and <c>wq · q</c>.
    /// </summary>
    public static void RneProducts(int rows, int n, ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> exponents, int qp,
        Span<double> error, Span<double> wqx, Span<double> wqq)
    {
        double qd = qp;
        bool weighted = !w.IsEmpty;
        int i = 0;
        var hi = Vector256.Create(qd);
        var lo = Vector256.Create(-qd);
        for (int c = 0; c < rows; c++)
        {
            double step = Pow2(exponents[c]), inv = Pow2(-exponents[c]);
            int end = i + n;
            if (Vector)
            {
                var vstep = Vector256.Create(step);
                var vinv = Vector256.Create(inv);
                for (; i + 4 <= end; i += 4)
                {
                    var v = Vector256.LoadUnsafe(in x[i]);
                    var q = Clamp(Avx.RoundToNearestInteger(Avx.Multiply(v, vinv)), lo, hi);
                    var err = Avx.Subtract(Avx.Multiply(q, vstep), v);
                    err = Avx.Multiply(err, err);
                    var wq = q;
                    if (weighted)
                    {
                        var vw = Vector256.LoadUnsafe(in w[i]);
                        wq = Avx.Multiply(vw, q);
                        err = Avx.Multiply(err, vw);
                    }
                    err.StoreUnsafe(ref error[i]);
                    Avx.Multiply(wq, v).StoreUnsafe(ref wqx[i]);
                    Avx.Multiply(wq, q).StoreUnsafe(ref wqq[i]);
                }
            }
            for (; i < end; i++)
            {
                double v = x[i];
                double q = Clamp(Math.Round(v * inv), qd);
                double err = q * step - v;
                err *= err;
                double wq = weighted ? w[i] * q : q;
                error[i] = weighted ? err * w[i] : err;
                wqx[i] = wq * v;
                wqq[i] = wq * q;
            }
        }
    }

    /// <summary>
    /// <see cref="RneProducts"/> of one row with the outlier mask's weights formed on the way (<see cref="OutlierWeights"/>:
    /// w = 1 where |x| ≤ <paramref name="threshold"/>, else 0, times the row's second-moment weights where
    /// <paramref name="weights"/> holds them; +∞ for no mask, which weighs every finite element 1, or its given weight, as
    /// the reference does without a mask), summed where they are formed instead of written: the same terms, added in
    /// another order. Every term is ≥ 0 (squares and weights ≥ 0, and q·x and q·q with q of x's sign) or NaN, so each sum
    /// is within a factor (1 ± n·2^−53) of the exact sum of the terms, as libtorch's sum of them is
    /// (<see cref="LibtorchSum"/>): the caller uses them where that margin decides. A negative weight would break that:
    /// the sums are then NaN.
    /// </summary>
    public static void RneProductSums<T>(ReadOnlySpan<T> x, ReadOnlySpan<double> weights, double threshold, double exponent, int qp, out double error, out double wqx, out double wqq)
        where T : unmanaged
    {
        int n = x.Length, i = 0;
        bool weighted = !weights.IsEmpty;
        if (weighted && AnyNegative(weights))
        {
            (error, wqx, wqq) = (double.NaN, double.NaN, double.NaN);
            return;
        }

        double qd = qp, step = Pow2(exponent), inv = Pow2(-exponent);
        double se = 0, sx = 0, sq = 0;
        if (Vector)
        {
            var hi = Vector256.Create(qd);
            var lo = Vector256.Create(-qd);
            var vstep = Vector256.Create(step);
            var vinv = Vector256.Create(inv);
            var vt = Vector256.Create(threshold);
            var signBit = Vector256.Create(-0.0);
            var one = Vector256.Create(1.0);
            Vector256<double> ae = default, ax = default, aq = default;
            for (; i + 4 <= n; i += 4)
            {
                var v = Load4(x, i);
                var m = Avx.And(Avx.CompareLessThanOrEqual(Avx.AndNot(signBit, v), vt), one);
                if (weighted) m = Avx.Multiply(Vector256.LoadUnsafe(in weights[i]), m);
                var q = Clamp(Avx.RoundToNearestInteger(Avx.Multiply(v, vinv)), lo, hi);
                var err = Avx.Subtract(Avx.Multiply(q, vstep), v);
                err = Avx.Multiply(Avx.Multiply(err, err), m);
                var wq = Avx.Multiply(m, q);
                ae = Avx.Add(ae, err);
                ax = Avx.Add(ax, Avx.Multiply(wq, v));
                aq = Avx.Add(aq, Avx.Multiply(wq, q));
            }
            se = Vector256.Sum(ae);
            sx = Vector256.Sum(ax);
            sq = Vector256.Sum(aq);
        }
        for (; i < n; i++)
        {
            double v = Load1(x, i);
            double m = Math.Abs(v) <= threshold ? 1.0 : 0.0;
            if (weighted) m = weights[i] * m;
            double q = Clamp(Math.Round(v * inv), qd);
            double err = q * step - v;
            err *= err;
            double wq = m * q;
            se += err * m;
            sx += wq * v;
            sq += wq * q;
        }
        (error, wqx, wqq) = (se, sx, sq);
    }

    /// <summary>
    /// Weighted squared errors of RNE codes at K candidate exponents, for the searches' batched MSQE comparisons: for
    /// x [C, N], integer-valued candidate exponents <paramref name="exponents"/> [K, C] (step = 2^e, inv = 2^−e) and
    /// weights w [C, N] (empty: none), writes <c>((clamp(R(x · inv), −qp, qp) · step − x)²) · w</c> into rows
    /// <paramref name="firstRow"/>.. of <paramref name="errors"/> [firstRow + K, C, N].
    /// </summary>
    public static void CandidateErrors(int k, int rows, int n, ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> exponents, int qp, Span<double> errors, int firstRow)
    {
        double qd = qp;
        bool weighted = !w.IsEmpty;
        int plane = rows * n;
        var hi = Vector256.Create(qd);
        var lo = Vector256.Create(-qd);
        var output = errors.Slice(firstRow * plane);
        // Row by row, every candidate per element (x and w read once, not once per candidate).
        Span<double> steps = k <= 16 ? stackalloc double[2 * k] : new double[2 * k];
        int i = 0;
        for (int c = 0; c < rows; c++)
        {
            CandidateSteps(exponents, k, rows, c, steps);
            int end = i + n;
            if (Wide)
            {
                var lo8 = Vector512.Create(-qd);
                var hi8 = Vector512.Create(qd);
                for (; i + 8 <= end; i += 8)
                {
                    var v = Vector512.LoadUnsafe(in x[i]);
                    var vw = weighted ? Vector512.LoadUnsafe(in w[i]) : default;
                    for (int j = 0; j < k; j++)
                        Error(v, steps[2 * j + 1], steps[2 * j], lo8, hi8, weighted, vw).StoreUnsafe(ref output[j * plane + i]);
                }
            }
            if (Vector)
            {
                for (; i + 4 <= end; i += 4)
                {
                    var v = Vector256.LoadUnsafe(in x[i]);
                    var vw = weighted ? Vector256.LoadUnsafe(in w[i]) : default;
                    for (int j = 0; j < k; j++)
                        Error(v, steps[2 * j + 1], steps[2 * j], lo, hi, weighted, vw).StoreUnsafe(ref output[j * plane + i]);
                }
            }
            for (; i < end; i++)
            {
                double v = x[i];
                for (int j = 0; j < k; j++)
                    output[j * plane + i] = Error(v, steps[2 * j + 1], steps[2 * j], qd, weighted, weighted ? w[i] : 1.0);
            }
        }
    }

    /// <summary>Elements a bounded candidate pass computes between two looks at its partial sums (a multiple of 8).</summary>
    internal const int BoundedBlock = 16;

    /// <summary>
    /// <see cref="CandidateErrors"/> of one row x [N] for K candidate exponents <paramref name="exponents"/> [K], each
    /// candidate's row of errors written to <paramref name="errors"/>[j·N ..], where a candidate stops early once its
    /// errors cannot sum below <paramref name="bound"/>: <paramref name="alive"/>[j] false means libtorch's sum of its
    /// whole row (in any order of additions) is greater than <paramref name="bound"/> (or NaN, where a NaN term lies beyond
    /// the point where it stopped), so not below it, and its row is only partly written;
    /// true means its row is whole and bitwise <see cref="CandidateErrors"/>' (the same operations per element).
    /// <para>
    /// Why a retired candidate's sum exceeds the bound: its terms are ≥ 0 or NaN (squares times weights, and the bound is
    /// used only where no weight is negative; with a negative weight no candidate retires). The partial sum S' of the
    /// first m terms, added in any order in float64 (unit roundoff u = 2^−53), is at most (1 + u)^m times their exact sum;
    /// libtorch's sum L of all N terms, added in any order, is at least (1 − u)^N times the exact total, which is at least
    /// the exact partial sum. So L ≥ S'·(1 − u)^N / (1 + u)^N &gt; S'·(1 − 8Nu)·(1 + u) ≥ fl(S'·(1 − 8Nu)) for N·u ≪ 1, and a
    /// candidate retires only where that product is &gt; the bound (and S' is finite: an overflowed partial sum retires
    /// nothing). A NaN term makes S' NaN, which never compares greater: such a candidate runs to the end, as does every
    /// candidate under a NaN or infinite bound.
    /// </para>
    /// </summary>
    public static void RowCandidateErrorsBounded(int k, ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> exponents, int qp, Span<double> errors,
        double bound, Span<bool> alive)
    {
        int n = x.Length;
        double qd = qp;
        bool weighted = !w.IsEmpty;
        if (weighted && AnyNegative(w)) bound = double.PositiveInfinity;
        double shrink = 1.0 - 8.0 * n / 9007199254740992.0; // 1 − 8N·2^−53
        Span<double> steps = k <= 16 ? stackalloc double[2 * k] : new double[2 * k];
        Span<double> partial = k <= 16 ? stackalloc double[k] : new double[k];
        CandidateSteps(exponents, k, 1, 0, steps);
        partial.Clear();
        alive.Slice(0, k).Fill(true);
        var hi = Vector256.Create(qd);
        var lo = Vector256.Create(-qd);
        var lo8 = Vector512.Create(-qd);
        var hi8 = Vector512.Create(qd);
        for (int start = 0; start < n; start += BoundedBlock)
        {
            int end = Math.Min(n, start + BoundedBlock);
            bool any = false;
            for (int j = 0; j < k; j++)
            {
                if (!alive[j]) continue;
                any = true;
                double step = steps[2 * j], inv = steps[2 * j + 1];
                var output = errors.Slice(j * n, n);
                double sum = 0;
                int i = start;
                if (Wide)
                {
                    var acc = Vector512<double>.Zero;
                    for (; i + 8 <= end; i += 8)
                    {
                        var e = Error(Vector512.LoadUnsafe(in x[i]), inv, step, lo8, hi8, weighted, weighted ? Vector512.LoadUnsafe(in w[i]) : default);
                        e.StoreUnsafe(ref output[i]);
                        acc = Avx512F.Add(acc, e);
                    }
                    sum += Vector512.Sum(acc);
                }
                if (Vector)
                {
                    var acc = Vector256<double>.Zero;
                    for (; i + 4 <= end; i += 4)
                    {
                        var e = Error(Vector256.LoadUnsafe(in x[i]), inv, step, lo, hi, weighted, weighted ? Vector256.LoadUnsafe(in w[i]) : default);
                        e.StoreUnsafe(ref output[i]);
                        acc = Avx.Add(acc, e);
                    }
                    sum += Vector256.Sum(acc);
                }
                for (; i < end; i++)
                {
                    var e = Error(x[i], inv, step, qd, weighted, weighted ? w[i] : 1.0);
                    output[i] = e;
                    sum += e;
                }

                partial[j] += sum;
                if (partial[j] < double.PositiveInfinity && partial[j] * shrink > bound) alive[j] = false;
            }

            if (!any) return;
        }
    }

    /// <summary>Whether any value is &lt; 0 (−0 and NaN are not).</summary>
    private static bool AnyNegative<T>(ReadOnlySpan<T> values) where T : unmanaged, System.Numerics.INumber<T>
    {
        int i = 0;
        if (Vector)
        {
            var zero = Vector256<T>.Zero;
            for (; i + Vector256<T>.Count <= values.Length; i += Vector256<T>.Count)
                if (Vector256.LessThanAny(Vector256.LoadUnsafe(in values[i]), zero)) return true;
        }
        for (; i < values.Length; i++)
            if (values[i] < T.Zero) return true;
        return false;
    }

    /// <summary>
    /// <see cref="CandidateErrors"/> straight from a float32 weight whose channel matrix [C, N] is its memory (a layout with
    /// Outer = 1), with the weights the reference forms on the way: for v = (double)x, w = r · m, where
    /// m = (|v| ≤ <paramref name="threshold"/>[c] ? 1 : 0) (the outlier mask as doubles; none when the span is empty) and
    /// r = (double)<paramref name="root"/>[i] (√ of the second moments, computed by the caller; none when empty); unweighted
    /// when both are absent. Writes <c>((clamp(R(v · 2^−e), −qp, qp) · 2^e − v)²) · w</c> for the K candidate exponents
    /// [K, C] into <paramref name="errors"/> [K, C, N]: bitwise what the reference's float64 copy, mask and
    /// <see cref="CandidateErrors"/> give, without the float64 copy, the mask and the weights in memory.
    /// </summary>
    public static void WeightCandidateErrors(int k, int rows, int n, ReadOnlySpan<float> x, ReadOnlySpan<double> threshold, ReadOnlySpan<float> root,
        ReadOnlySpan<double> exponents, int qp, Span<double> errors)
    {
        double qd = qp;
        bool masked = !threshold.IsEmpty, rooted = !root.IsEmpty, weighted = masked || rooted;
        int plane = rows * n;
        var hi = Vector256.Create(qd);
        var lo = Vector256.Create(-qd);
        var signBit = Vector256.Create(-0.0);
        var one = Vector256.Create(1.0);
        Span<double> steps = k <= 16 ? stackalloc double[2 * k] : new double[2 * k];
        int i = 0;
        for (int c = 0; c < rows; c++)
        {
            CandidateSteps(exponents, k, rows, c, steps);
            double limit = masked ? threshold[c] : 0;
            int end = i + n;
            if (Wide)
            {
                var lo8 = Vector512.Create(-qd);
                var hi8 = Vector512.Create(qd);
                var one8 = Vector512.Create(1.0);
                var limit8 = Vector512.Create(limit);
                for (; i + 8 <= end; i += 8)
                {
                    var v = Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(in x[i]));
                    var w = one8;
                    if (masked) w = Vector512.LessThanOrEqual(Vector512.Abs(v), limit8) & one8;
                    if (rooted) w = masked ? Avx512F.Multiply(Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(in root[i])), w) : Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(in root[i]));
                    for (int j = 0; j < k; j++)
                        Error(v, steps[2 * j + 1], steps[2 * j], lo8, hi8, weighted, w).StoreUnsafe(ref errors[j * plane + i]);
                }
            }
            if (Vector)
            {
                var vlimit = Vector256.Create(limit);
                for (; i + 4 <= end; i += 4)
                {
                    var v = Avx.ConvertToVector256Double(Vector128.LoadUnsafe(in x[i]));
                    var w = one;
                    if (masked) w = Avx.And(Avx.CompareLessThanOrEqual(Avx.AndNot(signBit, v), vlimit), one);
                    if (rooted) w = masked ? Avx.Multiply(Avx.ConvertToVector256Double(Vector128.LoadUnsafe(in root[i])), w) : Avx.ConvertToVector256Double(Vector128.LoadUnsafe(in root[i]));
                    for (int j = 0; j < k; j++)
                        Error(v, steps[2 * j + 1], steps[2 * j], lo, hi, weighted, w).StoreUnsafe(ref errors[j * plane + i]);
                }
            }
            for (; i < end; i++)
            {
                double v = x[i];
                double w = 1.0;
                if (masked) w = Math.Abs(v) <= limit ? 1.0 : 0.0;
                if (rooted) w = masked ? root[i] * w : root[i];
                for (int j = 0; j < k; j++)
                    errors[j * plane + i] = Error(v, steps[2 * j + 1], steps[2 * j], qd, weighted, w);
            }
        }
    }

    /// <summary>
    /// The msqe_round choice between two candidate exponents per channel ([2, C]: <c>e0</c>, <c>e1</c>) of a float32
    /// weight [C, N], as the reference makes it: <c>e0</c> where libtorch's sum of <see cref="WeightCandidateErrors"/>' row
    /// at <c>e0</c> is below that at <c>e1</c>, else <c>e1</c> (ties and NaN sums go to <c>e1</c>). Writes the chosen
    /// exponents to <paramref name="chosen"/> [C]; returns how many channels needed the exact sums.
    /// <para>
    /// Most channels are decided from float32 sums, 16 elements at a time: with exponents in [−100, 100], qp &lt; 2^24,
    /// finite weights and second-moment weights r (the roots, when given) and N &lt; 2^18, each element's float32 term
    /// <c>(d²)·r</c> is its exact value within a relative 5·2^−24 (the rounding, the clamp and the step are exact: R of a
    /// product that is subnormal is 0, as is R of its exact value; a difference that is subnormal is exact; then one
    /// rounding each for the difference, the square and the product with r, the mask being 0 or 1), plus an absolute
    /// 2^−150·(1 + r) where the square or the product is subnormal, and the float32 sum of N non-negative terms is
    /// within a relative N·2^−24 of theirs; libtorch's float64 sum is within N·2^−52 of the exact one. So where
    /// s0·(1 + γ) + B &lt; s1·(1 − γ) − B (or the converse), with γ = (N + 8)·2^−21 and B = N·2^−146·max(1, max r), the
    /// exact sums and libtorch's are ordered the same way, strictly. A channel closer than that, with a sum or a root
    /// that is not finite (a NaN root makes the reference's sum NaN even where the mask drops its element), or outside
    /// those conditions, is summed exactly (<see cref="WeightCandidateErrors"/> and <see cref="LibtorchSum"/>, so only
    /// where <see cref="RowSumsApply"/> holds). The outlier mask |v| ≤ t compares a float32 v, so it is the same against
    /// the largest float32 ≤ t.
    /// </para>
    /// With <paramref name="squareRoots"/>, <paramref name="root"/> holds the second moments themselves: the float32 sums
    /// take each root as the correctly rounded float32 square root, formed where it is used instead of a weight-sized
    /// libtorch <c>sqrt</c> a step. libtorch's roots are not correctly rounded, but where <see cref="SqrtCloseVerified"/>
    /// holds they are within 2 ULP of these: each term then differs from the reference's by a relative 2^−22 more, while
    /// γ allows 8N + 64 units of 2^−24 against the N + 5 the sums need (a negative moment's root is NaN in both). A
    /// channel summed exactly takes libtorch's roots of its row, as the reference's sums do. Without that check, give
    /// libtorch's roots.
    /// </summary>
    public static int PairChoices(int rows, int n, ReadOnlySpan<float> x, ReadOnlySpan<double> threshold, ReadOnlySpan<float> root,
        ReadOnlySpan<double> exponents, int qp, Span<double> chosen, bool squareRoots = false)
    {
        bool masked = !threshold.IsEmpty, rooted = !root.IsEmpty;
        bool screened = n < 1 << 18 && qp < 1 << 24;
        var pool = System.Buffers.ArrayPool<double>.Shared;
        double[]? scratch = null;
        float[]? roots = null;
        Span<double> pair = stackalloc double[2];
        int exact = 0;
        try
        {
            for (int c = 0; c < rows; c++)
            {
                double e0 = exponents[c], e1 = exponents[rows + c];
                var xs = x.Slice(c * n, n);
                if (e0.Equals(e1))
                    chosen[c] = e1; // one candidate: the reference compares a sum with itself and takes e1
                else if (!screened || ScreenedChoice(xs, rooted ? root.Slice(c * n, n) : default, squareRoots, masked ? FloatAtMost(threshold[c]) : float.PositiveInfinity, e0, e1, qp) is not { } choice)
                {
                    exact++;
                    scratch ??= pool.Rent(2 * n);
                    pair[0] = e0;
                    pair[1] = e1;
                    var rowRoots = rooted ? root.Slice(c * n, n) : default;
                    if (rooted && squareRoots)
                    {
                        roots ??= System.Buffers.ArrayPool<float>.Shared.Rent(n);
                        LibtorchRoots(rowRoots, roots.AsSpan(0, n));
                        rowRoots = roots.AsSpan(0, n);
                    }

                    WeightCandidateErrors(2, 1, n, xs, masked ? threshold.Slice(c, 1) : default, rowRoots, pair, qp, scratch);
                    chosen[c] = LibtorchSum.Row(scratch.AsSpan(0, n)) < LibtorchSum.Row(scratch.AsSpan(n, n)) ? e0 : e1;
                }
                else chosen[c] = choice;
            }
        }
        finally
        {
            if (scratch is not null) pool.Return(scratch);
            if (roots is not null) System.Buffers.ArrayPool<float>.Shared.Return(roots);
        }
        return exact;
    }

    /// <summary><see cref="PairChoices"/>' choice for one channel from its float32 sums (<paramref name="root"/>: its second-moment weights, or their squares with <paramref name="squareRoots"/>, or empty); null where they cannot tell.</summary>
    private static double? ScreenedChoice(ReadOnlySpan<float> x, ReadOnlySpan<float> root, bool squareRoots, float limit, double e0, double e1, int qp)
    {
        if (!(Math.Abs(e0) <= 100 && Math.Abs(e1) <= 100)) return null;
        var (s0, s1, largestRoot) = Float32PairSums(x, root, squareRoots, limit, (float)Pow2(-e0), (float)Pow2(e0), (float)Pow2(-e1), (float)Pow2(e1), qp);
        if (!double.IsFinite(s0) || !double.IsFinite(s1)) return null;
        int n = x.Length;
        double gamma = (n + 8) * 4.76837158203125E-07, slack = n * 1.1210387714598537E-44 * Math.Max(1.0, largestRoot); // 2^−21, 2^−146
        if (s0 * (1 + gamma) + slack < s1 * (1 - gamma) - slack) return e0;
        if (s1 * (1 + gamma) + slack < s0 * (1 - gamma) - slack) return e1;
        return null;
    }

    /// <summary>
    /// learnable_po2's mask limits for a float32 weight: per channel the largest float32 ≤ 2^l·<paramref name="factor"/>
    /// (as a double), which every comparison |v| ≤ t of a float32 v answers as t itself does (<see cref="FloatAtMost"/>),
    /// without libtorch's <c>exp2</c>. <see cref="Exp2"/>'s 2^l and libtorch's are each within a few ULP of the true power, so
    /// the product lies within a relative 2^−40 of libtorch's; where the largest float32 below both ends of that band is one
    /// and the same, it is the reference's. False (<paramref name="limits"/> partly written) as soon as a channel's is
    /// not certain, its l is not in [−100, 100], or the band leaves float32's normal range: the caller then takes
    /// libtorch's thresholds.
    /// </summary>
    public static bool MaskLimits(ReadOnlySpan<float> log2Scale, double factor, Span<double> limits)
    {
        const double band = 9.094947017729282E-13; // 2^−40
        int c = 0;
        try
        {
            for (; c < log2Scale.Length; c++)
            {
                double l = log2Scale[c];
                if (!(Math.Abs(l) <= 100)) return false;
                double t = Exp2(l) * factor, low = t * (1 - band), high = t * (1 + band);
                if (!(low >= SmallestNormalFloat && high < float.MaxValue)) return false;
                float below = NormalFloatAtMost(low);
                if (below != NormalFloatAtMost(high)) return false;
                limits[c] = below;
            }
            return true;
        }
        finally
        {
            MaskLimitChannels += c; // the channels settled (a thread-static counter: once, not per channel)
        }
    }

    /// <summary>2^(j/64) for j = 0 … 63, each from <see cref="Math.Pow"/> (within an ULP of the true power).</summary>
    private static readonly double[] Exp2Table = Enumerable.Range(0, 64).Select(j => Math.Pow(2.0, j / 64.0)).ToArray();

    /// <summary>
    /// 2^l for |l| ≤ 100 (an l that a float32 holds) within a relative 2⁻⁴⁸ of the true power, as <see cref="Math.Pow"/>
    /// is, in a few nanoseconds instead of a call to the C library's pow (per channel and step in <see cref="MaskLimits"/>,
    /// thousands of channels a step): l = k/64 + r with r ∈ [0, 1/64), 2^(k/64) = 2^⌊k/64⌋ · a table entry, and 2^r by
    /// the degree-6 Taylor polynomial of exp(r·ln 2) (truncation below 2⁻⁵⁷; r's rounding where it has one, r·ln 2, the
    /// table entry, the polynomial's rounding and the product add a few ULP).
    /// </summary>
    internal static double Exp2(double l)
    {
        double k = Math.Floor(l * 64); // l·64 and its floor are exact for |l| ≤ 100
        double r = l - k * 0.015625; // exact for every float32 l but tiny negative ones (then within an ULP of r)
        double t = r * 0.6931471805599453; // ln 2
        double p = 1 + t * (1 + t * (0.5 + t * (1.0 / 6 + t * (1.0 / 24 + t * (1.0 / 120 + t * (1.0 / 720))))));
        int ki = (int)k;
        // × 2^⌊k/64⌋ (ki >> 6, also for negative k), a normal power for |l| ≤ 100 built from its exponent field: exact, as ScaleB.
        return Exp2Table[ki & 63] * p * BitConverter.Int64BitsToDouble((long)(1023 + (ki >> 6)) << 52);
    }

    /// <summary>Channels whose mask limit <see cref="MaskLimits"/> settled on this thread: for tests.</summary>
    [ThreadStatic]
    internal static long MaskLimitChannels;

    /// <summary>The largest float32 ≤ <paramref name="t"/> (NaN for NaN): |v| ≤ t ⇔ |v| ≤ it for every float32 v.</summary>
    internal static float FloatAtMost(double t)
    {
        float f = (float)t;
        return f > t ? MathF.BitDecrement(f) : f;
    }

    /// <summary>The smallest positive normal float32, 2^−126.</summary>
    private const double SmallestNormalFloat = 1.1754943508222875E-38;

    /// <summary>
    /// <see cref="FloatAtMost"/> for a <paramref name="t"/> in [2^−126, float.MaxValue), without a branch: t rounded to
    /// float32, one step down (its bits less one, a positive normal float) where it rounded up. The mask limits' rounding
    /// goes either way at random, which a branch mispredicts half the time.
    /// </summary>
    private static float NormalFloatAtMost(double t)
    {
        float f = (float)t;
        return BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(f) - (f > t ? 1 : 0));
    }

    /// <summary>
    /// Both candidates' sums over one channel of <c>((clamp(R(v · inv), −qp, qp) · step − v)²) · r · m</c> in float32
    /// (r: <paramref name="root"/>'s element, 1 when it is empty; m = |v| ≤ <paramref name="limit"/>), in no particular
    /// order, and the largest r: the screening sums of <see cref="PairChoices"/>; NaN sums when a weight or a root is not
    /// finite (the reference's sums are then NaN, masked or not) or a root is negative (the bounds need terms ≥ 0).
    /// </summary>
    private static (double, double, double) Float32PairSums(ReadOnlySpan<float> x, ReadOnlySpan<float> root, bool squareRoots, float limit, float inv0, float step0, float inv1, float step1, int qp)
    {
        int n = x.Length;
        bool rooted = !root.IsEmpty;
        // A negative root would make a term negative, outside the bounds: libtorch's sums then decide. (A square root is
        // never negative: a negative moment's root is NaN, which makes the sums NaN.)
        if (rooted && !squareRoots && AnyNegative(root)) return (double.NaN, double.NaN, double.NaN);
        if (Wide && n >= 16) return Float32PairSums<Lanes16, Vector512<float>>(x, root, squareRoots, limit, inv0, step0, inv1, step1, qp);
        if (Vector && n >= 8) return Float32PairSums<Lanes8, Vector256<float>>(x, root, squareRoots, limit, inv0, step0, inv1, step1, qp);

        float q = qp, t0s = 0, t1s = 0, largest = 0;
        for (int i = 0; i < n; i++)
        {
            float v = x[i];
            float r = rooted ? squareRoots ? MathF.Sqrt(root[i]) : root[i] : 1f;
            if (!float.IsFinite(v) || !float.IsFinite(r)) return (double.NaN, double.NaN, double.NaN);
            largest = MathF.Max(largest, r);
            if (!(MathF.Abs(v) <= limit)) continue;
            float d0 = Math.Clamp(MathF.Round(v * inv0), -q, q) * step0 - v;
            float d1 = Math.Clamp(MathF.Round(v * inv1), -q, q) * step1 - v;
            t0s += d0 * d0 * r;
            t1s += d1 * d1 * r;
        }
        return (t0s, t1s, largest);
    }

    /// <summary>
    /// <see cref="Float32PairSums(ReadOnlySpan{float}, ReadOnlySpan{float}, bool, float, float, float, float, float, int)"/>
    /// <typeparamref name="TL"/>.Count elements at a time (a row of at least that many). Each term is multiplied by its mask
    /// (1 or 0), as the reference weighs it, not selected: a weight or root that is not finite makes the sums NaN or ∞
    /// even where the mask drops its element (∞·0, NaN·0), as the reference's. The last pass takes the row's last Count
    /// elements with those an earlier pass took masked out, so every element counts once and no scalar tail is left.
    /// </summary>
    private static (double, double, double) Float32PairSums<TL, TV>(ReadOnlySpan<float> x, ReadOnlySpan<float> root, bool squareRoots, float limit, float inv0, float step0, float inv1, float step1, int qp)
        where TL : struct, ILanes<TV>
        where TV : struct
    {
        bool rooted = !root.IsEmpty;
        int n = x.Length, width = TL.Count;
        TV lo = TL.Create(-qp), hi = TL.Create(qp), vlimit = TL.Create(limit), one = TL.Create(1f), all = TL.AllBitsSet;
        TV scale0 = TL.Create(inv0), size0 = TL.Create(step0), scale1 = TL.Create(inv1), size1 = TL.Create(step1);
        TV a0 = TL.Zero, a1 = TL.Zero, top = TL.Zero;
        for (int i = 0; i < n; i += width)
        {
            int at = i;
            var fresh = all;
            if (i > n - width)
            {
                at = n - width;
                fresh = TL.From(i - at);
            }
            var v = TL.Load(x, at);
            var m = TL.And(TL.And(TL.AtMost(TL.Abs(v), vlimit), fresh), one);
            var d0 = TL.Subtract(TL.Multiply(TL.Min(hi, TL.Max(lo, TL.Round(TL.Multiply(v, scale0)))), size0), v);
            var d1 = TL.Subtract(TL.Multiply(TL.Min(hi, TL.Max(lo, TL.Round(TL.Multiply(v, scale1)))), size1), v);
            var t0 = TL.Multiply(d0, d0);
            var t1 = TL.Multiply(d1, d1);
            if (rooted)
            {
                var r = TL.Load(root, at);
                if (squareRoots) r = TL.Sqrt(r);
                top = TL.Max(top, r);
                t0 = TL.Multiply(t0, r);
                t1 = TL.Multiply(t1, r);
            }
            a0 = TL.Add(a0, TL.Multiply(t0, m));
            a1 = TL.Add(a1, TL.Multiply(t1, m));
        }
        float s0 = TL.Sum(a0), s1 = TL.Sum(a1);
        return (s0, s1, rooted ? TL.Largest(top) : 0);
    }

    /// <summary>One SIMD width's float32 operations for a kernel written once for several widths (the JIT specializes it per struct).</summary>
    private interface ILanes<TV> where TV : struct
    {
        static abstract int Count { get; }
        static abstract TV Zero { get; }
        static abstract TV AllBitsSet { get; }
        static abstract TV Create(float value);
        static abstract TV Load(ReadOnlySpan<float> values, int at);
        /// <summary>All bits set in the lanes from <paramref name="first"/> on, clear below it.</summary>
        static abstract TV From(int first);
        static abstract TV Abs(TV v);
        static abstract TV AtMost(TV a, TV b);
        static abstract TV And(TV a, TV b);
        static abstract TV Add(TV a, TV b);
        static abstract TV Subtract(TV a, TV b);
        static abstract TV Multiply(TV a, TV b);
        static abstract TV Min(TV a, TV b);
        static abstract TV Max(TV a, TV b);
        /// <summary>Round half to even.</summary>
        static abstract TV Round(TV v);
        /// <summary>Correctly rounded square root.</summary>
        static abstract TV Sqrt(TV v);
        static abstract float Sum(TV v);
        /// <summary>The largest lane (of NaN-free lanes).</summary>
        static abstract float Largest(TV v);
    }

    /// <summary>AVX2: 8 float32 lanes.</summary>
    private readonly struct Lanes8 : ILanes<Vector256<float>>
    {
        public static int Count => 8;
        public static Vector256<float> Zero => Vector256<float>.Zero;
        public static Vector256<float> AllBitsSet => Vector256<float>.AllBitsSet;
        public static Vector256<float> Create(float value) => Vector256.Create(value);
        public static Vector256<float> Load(ReadOnlySpan<float> values, int at) => Vector256.LoadUnsafe(in values[at]);
        public static Vector256<float> From(int first) => Vector256.GreaterThanOrEqual(Vector256<int>.Indices, Vector256.Create(first)).AsSingle();
        public static Vector256<float> Abs(Vector256<float> v) => Vector256.Abs(v);
        public static Vector256<float> AtMost(Vector256<float> a, Vector256<float> b) => Vector256.LessThanOrEqual(a, b);
        public static Vector256<float> And(Vector256<float> a, Vector256<float> b) => a & b;
        public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => Avx.Add(a, b);
        public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => Avx.Subtract(a, b);
        public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => Avx.Multiply(a, b);
        public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Avx.Min(a, b);
        public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Avx.Max(a, b);
        public static Vector256<float> Round(Vector256<float> v) => Avx.RoundToNearestInteger(v);
        public static Vector256<float> Sqrt(Vector256<float> v) => Avx.Sqrt(v);
        public static float Sum(Vector256<float> v) => Vector256.Sum(v);
        public static float Largest(Vector256<float> v) => FusedKernels.Max(v);
    }

    /// <summary>AVX-512: 16 float32 lanes.</summary>
    private readonly struct Lanes16 : ILanes<Vector512<float>>
    {
        public static int Count => 16;
        public static Vector512<float> Zero => Vector512<float>.Zero;
        public static Vector512<float> AllBitsSet => Vector512<float>.AllBitsSet;
        public static Vector512<float> Create(float value) => Vector512.Create(value);
        public static Vector512<float> Load(ReadOnlySpan<float> values, int at) => Vector512.LoadUnsafe(in values[at]);
        public static Vector512<float> From(int first) => Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(first)).AsSingle();
        public static Vector512<float> Abs(Vector512<float> v) => Vector512.Abs(v);
        public static Vector512<float> AtMost(Vector512<float> a, Vector512<float> b) => Vector512.LessThanOrEqual(a, b);
        public static Vector512<float> And(Vector512<float> a, Vector512<float> b) => a & b;
        public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => Avx512F.Add(a, b);
        public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => Avx512F.Subtract(a, b);
        public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => Avx512F.Multiply(a, b);
        public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Avx512F.Min(a, b);
        public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Avx512F.Max(a, b);
        public static Vector512<float> Round(Vector512<float> v) => Avx512F.RoundScale(v, 8);
        public static Vector512<float> Sqrt(Vector512<float> v) => Avx512F.Sqrt(v);
        public static float Sum(Vector512<float> v) => Vector512.Sum(v);
        public static float Largest(Vector512<float> v) => Lanes8.Largest(Avx.Max(v.GetLower(), v.GetUpper()));
    }

    /// <summary>The largest of 8 lanes (NaN-free lanes: the caller's sums are NaN otherwise).</summary>
    private static float Max(Vector256<float> v)
    {
        var m = Avx.Max(v.GetLower(), v.GetUpper());
        m = Sse.Max(m, Sse.Shuffle(m, m, 0b01_00_11_10));
        return MathF.Max(m.ToScalar(), m.GetElement(1));
    }

    /// <summary>The squared deviations <c>(x − mean)²</c> per row of x [C, N] (PopulationStd's elementwise part).</summary>
    public static void CenteredSquares(int rows, int n, ReadOnlySpan<double> x, ReadOnlySpan<double> mean, Span<double> result)
    {
        int i = 0;
        for (int c = 0; c < rows; c++)
        {
            double m = mean[c];
            int end = i + n;
            if (Vector)
            {
                var vm = Vector256.Create(m);
                for (; i + 4 <= end; i += 4)
                {
                    var d = Avx.Subtract(Vector256.LoadUnsafe(in x[i]), vm);
                    Avx.Multiply(d, d).StoreUnsafe(ref result[i]);
                }
            }
            for (; i < end; i++)
            {
                double d = x[i] - m;
                result[i] = d * d;
            }
        }
    }

    /// <summary>
    /// The msqe_po2 outlier mask <c>|x| ≤ threshold</c> per row of x [C, N] (threshold [C]) and the MSQE weights it gives:
    /// the mask as float64, or <c>weights · mask</c> when <paramref name="weights"/> is not empty. An empty
    /// <paramref name="mask"/> writes the weights only.
    /// </summary>
    public static void OutlierWeights(int rows, int n, ReadOnlySpan<double> x, ReadOnlySpan<double> threshold, ReadOnlySpan<double> weights, Span<bool> mask, Span<double> result)
    {
        bool weighted = !weights.IsEmpty, masks = !mask.IsEmpty;
        int i = 0;
        var signBit = Vector256.Create(-0.0);
        var one = Vector256.Create(1.0);
        for (int c = 0; c < rows; c++)
        {
            double t = threshold[c];
            int end = i + n;
            if (Vector)
            {
                var vt = Vector256.Create(t);
                for (; i + 4 <= end; i += 4)
                {
                    var inside = Avx.CompareLessThanOrEqual(Avx.AndNot(signBit, Vector256.LoadUnsafe(in x[i])), vt);
                    if (masks)
                    {
                        var bits = Avx.MoveMask(inside);
                        for (int j = 0; j < 4; j++) mask[i + j] = ((bits >> j) & 1) != 0;
                    }
                    var m = Avx.And(inside, one);
                    (weighted ? Avx.Multiply(Vector256.LoadUnsafe(in weights[i]), m) : m).StoreUnsafe(ref result[i]);
                }
            }
            for (; i < end; i++)
            {
                bool inside = Math.Abs(x[i]) <= t;
                if (masks) mask[i] = inside;
                double m = inside ? 1.0 : 0.0;
                result[i] = weighted ? weights[i] * m : m;
            }
        }
    }
}
