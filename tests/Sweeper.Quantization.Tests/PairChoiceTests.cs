using Sweeper.Quantization.Po2;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// learnable_po2's msqe_round choice between floor and ceil of l (<see cref="FusedKernels.PairChoices"/>): the same
/// exponent as the reference (libtorch's sums of <see cref="FusedKernels.WeightCandidateErrors"/>' rows, ties and NaN to
/// the ceil) on every channel, whether float32 sums decided it or the channel was too close to call and was summed
/// exactly; near-ties built on purpose are summed exactly.
/// </summary>
public sealed class PairChoiceTests
{
    /// <summary>The reference: both candidates' errors in libtorch's memory, summed by libtorch, compared as the reference does.</summary>
    private static double[] Reference(int rows, int n, float[] x, double[] threshold, float[] root, double[] pair, int qp)
    {
        var errors = new double[2 * rows * n];
        FusedKernels.WeightCandidateErrors(2, rows, n, x, threshold, root, pair, qp, errors);
        using var tensor = torch.tensor(errors, [2, rows, n], ScalarType.Float64);
        using var sums = tensor.sum([2]);
        var s = sums.data<double>().ToArray();
        return Enumerable.Range(0, rows).Select(c => s[c] < s[rows + c] ? pair[c] : pair[rows + c]).ToArray();
    }

    private static double Gauss(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>[C, N] weights of spread 2^−4 with outliers, and l per channel around the MSQE-optimal range.</summary>
    private static (float[] X, double[] Levels) Layer(int rows, int n, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * n];
        for (int i = 0; i < x.Length; i++) x[i] = (float)((i % 17 == 3 ? 4.0 : 1.0) * Math.Pow(2, -4 + random.Next(-2, 3) * 0.25) * Gauss(random));
        var levels = Enumerable.Range(0, rows).Select(_ => -7 + 4 * random.NextDouble()).ToArray();
        return (x, levels);
    }

    private static double[] Pair(double[] levels) => [.. levels.Select(Math.Floor), .. levels.Select(Math.Ceiling)];

    private static double[] Thresholds(double[] levels, int qp)
    {
        using var l = torch.tensor(levels, ScalarType.Float64);
        using var t = torch.exp2(l) * (qp + 0.5);
        return t.data<double>().ToArray();
    }

    private static float[] Roots(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => i % 7 == 1 ? 0f : (float)Math.Sqrt(random.NextDouble() * 3)).ToArray();
    }

    public static TheoryData<int> Lengths() => new() { 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 96, 130, 255, 256, 257, 288, 480, 1000, 4097 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void RandomLayers_SameChoicesAsTheReference_MostDecidedByFloat32Sums(int n)
    {
        int rows = n > 1000 ? 8 : 40;
        foreach (var qp in new[] { 7, 127 })
            foreach (var masked in new[] { false, true })
                foreach (var rooted in new[] { false, true })
                {
                    var (x, levels) = Layer(rows, n, 31 * n + qp + (masked ? 1 : 0) + (rooted ? 2 : 0));
                    var pair = Pair(levels);
                    var threshold = masked ? Thresholds(levels, qp) : [];
                    var root = rooted ? Roots(rows * n, n) : [];
                    var chosen = new double[rows];

                    int exact = FusedKernels.PairChoices(rows, n, x, threshold, root, pair, qp, chosen);

                    Assert.Equal(Reference(rows, n, x, threshold, root, pair, qp), chosen);
                    if (n >= 16) Assert.True(exact <= rows / 4, $"n {n} qp {qp} masked {masked} rooted {rooted}: {exact} of {rows} channels summed exactly");
                }
    }

    /// <summary>
    /// Adjacent scales α on both sides of a flip of <paramref name="choice"/> (small weights favour the finer step, clipped
    /// ones the coarser): found on a grid from 1/8 to 16, then bisected to 1e−15; null where the grid shows none.
    /// </summary>
    private static (double Lo, double Hi)? Flip(Func<double, double> choice)
    {
        double lo = double.NaN, hi = double.NaN;
        for (double a = 0.125; a < 16; a *= 1.25)
            if (choice(a) != choice(a * 1.25)) { lo = a; hi = a * 1.25; break; }
        if (double.IsNaN(lo)) return null;
        double atLo = choice(lo);
        for (int i = 0; i < 60 && hi - lo > lo * 1e-15; i++)
        {
            double mid = 0.5 * (lo + hi);
            if (choice(mid) == atLo) lo = mid; else hi = mid;
        }
        return (lo, hi);
    }

    /// <summary>
    /// Rows on both sides of the point where the two candidates' sums cross (a weight row scaled by α, α bisected until
    /// the reference's choice flips between adjacent values): their sums differ far less than float32 sums can tell.
    /// </summary>
    [Theory]
    [InlineData(9, false)]
    [InlineData(33, false)]
    [InlineData(96, false)]
    [InlineData(480, false)]
    [InlineData(9, true)]
    [InlineData(33, true)]
    [InlineData(480, true)]
    [InlineData(9, true, true)]
    [InlineData(33, true, true)]
    [InlineData(480, true, true)]
    public void NearTies_SummedExactly_SameChoicesAsTheReference(int n, bool rooted, bool moments = false)
    {
        const int qp = 7;
        var pair = new double[] { -5, -4 };
        var rowsFound = new List<float[]>();
        // With moments, the choices get the second moments (squareRoots) and the reference libtorch's roots of them, which
        // are not all correctly rounded: the channels summed exactly must take libtorch's.
        var rowMoments = moments ? Roots(n, 900 + n).Select(r => r * r * 1.37f).ToArray() : [];
        var rowRoot = moments ? LibtorchRoots(rowMoments) : rooted ? Roots(n, 900 + n) : [];
        if (moments) Assert.Contains(Enumerable.Range(0, n), i => rowRoot[i] != MathF.Sqrt(rowMoments[i]));
        for (int seed = 0; seed < 12; seed++)
        {
            var (baseRow, _) = Layer(1, n, 500 + seed);
            float[] Scaled(double alpha) => baseRow.Select(v => (float)(v * alpha)).ToArray();
            double Choice(double alpha) => Reference(1, n, Scaled(alpha), [], rowRoot, pair, qp)[0];
            if (Flip(Choice) is not (var lo, var hi)) continue;
            rowsFound.Add(Scaled(lo));
            rowsFound.Add(Scaled(hi));
        }
        Assert.True(rowsFound.Count >= 8, $"only {rowsFound.Count} near-tie rows found");

        int rows = rowsFound.Count;
        var x = rowsFound.SelectMany(r => r).ToArray();
        var root = rooted ? Enumerable.Repeat(rowRoot, rows).SelectMany(r => r).ToArray() : [];
        var pairs = Pair(Enumerable.Repeat(-4.5, rows).ToArray());
        var chosen = new double[rows];
        int exact = moments
            ? FusedKernels.PairChoices(rows, n, x, [], Enumerable.Repeat(rowMoments, rows).SelectMany(r => r).ToArray(), pairs, qp, chosen, squareRoots: true)
            : FusedKernels.PairChoices(rows, n, x, [], root, pairs, qp, chosen);

        Assert.Equal(Reference(rows, n, x, [], root, pairs, qp), chosen);
        Assert.Equal(rows, exact);
    }

    /// <summary>
    /// Weights so small that float32 squares of their errors are subnormal (exact only to 2^−150), weighted by roots up to
    /// 2^40 that scale that absolute error up: near-ties found as above are still summed exactly and chosen as the
    /// reference chooses (with the float32 bound's absolute part not scaled by the largest root, some are decided
    /// wrongly from float32 sums).
    /// </summary>
    [Theory]
    [InlineData(9)]
    [InlineData(48)]
    [InlineData(160)]
    public void SubnormalSquaresUnderLargeRoots_SameChoicesAsTheReference(int n)
    {
        const int qp = 7;
        var random = new Random(n);
        var rowRoot = Enumerable.Range(0, n).Select(i => (float)Math.ScaleB(0.5 + random.NextDouble(), i % 3 == 0 ? 40 : random.Next(0, 41))).ToArray();
        var rows = new List<float[]>();
        var pairs = new List<(double, double)>();
        for (int seed = 0; seed < 10; seed++)
        {
            int shift = -62 - seed % 4; // weights near 2^(shift − 4): squared errors near 2^(2·shift − 8), below float32's normals
            var pair = new double[] { shift - 5, shift - 4 };
            var (baseRow, _) = Layer(1, n, 700 + seed);
            float[] Scaled(double alpha) => baseRow.Select(v => (float)Math.ScaleB(v * alpha, shift)).ToArray();
            double Choice(double alpha) => Reference(1, n, Scaled(alpha), [], rowRoot, pair, qp)[0];
            if (Flip(Choice) is not (var lo, var hi)) continue;
            foreach (var alpha in new[] { lo, hi, lo * (1 - 1e-6), hi * (1 + 1e-6), lo * (1 - 1e-4), hi * (1 + 1e-4) })
            {
                rows.Add(Scaled(alpha));
                pairs.Add((pair[0], pair[1]));
            }
        }
        Assert.True(rows.Count >= 24, $"only {rows.Count} rows found");

        int count = rows.Count;
        var x = rows.SelectMany(r => r).ToArray();
        var root = Enumerable.Repeat(rowRoot, count).SelectMany(r => r).ToArray();
        double[] candidates = [.. pairs.Select(p => p.Item1), .. pairs.Select(p => p.Item2)];
        var chosen = new double[count];
        FusedKernels.PairChoices(count, n, x, [], root, candidates, qp, chosen);

        Assert.Equal(Reference(count, n, x, [], root, candidates, qp), chosen);
    }

    /// <summary>
    /// A root that is NaN or infinite (also where the mask drops its element) or negative: libtorch's sums decide, as the
    /// reference's; in rows of a 16-wide and of an 8-wide pass (a depthwise 3×3 kernel's 9).
    /// </summary>
    [Theory]
    [InlineData(40, 8)]
    [InlineData(9, 16)]
    public void NonFiniteOrNegativeRoots_SummedExactly_AsTheReference(int n, int rows)
    {
        const int qp = 7;
        var (x, levels) = Layer(rows, n, 78);
        var root = Roots(rows * n, 78);
        root[0 * n + 5] = float.NaN;
        root[1 * n + Math.Min(33, n - 2)] = float.PositiveInfinity;
        root[2 * n + n - 1] = float.NaN; // in the last, overlapping pass of a vector row
        root[3 * n + 2] = -0.5f;
        x[4 * n + 7] = 1e6f; // beyond the mask's limit, with a NaN root: the reference's sum is still NaN
        root[4 * n + 7] = float.NaN;
        var pair = Pair(levels);
        var threshold = Thresholds(levels, qp);
        var chosen = new double[rows];

        int exact = FusedKernels.PairChoices(rows, n, x, threshold, root, pair, qp, chosen);

        Assert.Equal(Reference(rows, n, x, threshold, root, pair, qp), chosen);
        Assert.True(exact >= 5, $"{exact} channels summed exactly");
        foreach (var c in new[] { 0, 1, 2, 4 }) Assert.Equal(pair[rows + c], chosen[c]); // NaN sums: the ceil
    }

    /// <summary>libtorch's float32 square roots of <paramref name="moments"/> (the reference's second-moment weights).</summary>
    private static float[] LibtorchRoots(float[] moments)
    {
        using var m = torch.tensor(moments);
        using var r = m.sqrt();
        return r.data<float>().ToArray();
    }

    /// <summary>
    /// Second moments given as they are, their roots formed in the sums (<c>squareRoots</c>): the same choices as the
    /// reference with libtorch's roots, on random layers of every length (moments from 0 and subnormals to 2^60), and where
    /// a moment is negative, NaN or infinite (also where the mask drops its element): those channels are summed exactly.
    /// </summary>
    [Theory]
    [InlineData(5)]
    [InlineData(9)]
    [InlineData(16)]
    [InlineData(33)]
    [InlineData(130)]
    [InlineData(480)]
    public void Moments_RootsFormedInTheSums_SameChoicesAsWithLibtorchsRoots(int n)
    {
        const int rows = 24;
        var random = new Random(4000 + n);
        foreach (var qp in new[] { 7, 127 })
            foreach (var masked in new[] { false, true })
            {
                var (x, levels) = Layer(rows, n, 41 * n + qp);
                var moments = Enumerable.Range(0, rows * n).Select(i => i % 11 == 4 ? 0f : i % 13 == 6 ? 1e-41f * random.Next(1, 100)
                    : (float)Math.ScaleB(random.NextDouble(), random.Next(-60, 61))).ToArray();
                var pair = Pair(levels);
                var threshold = masked ? Thresholds(levels, qp) : [];
                var chosen = new double[rows];

                int exact = FusedKernels.PairChoices(rows, n, x, threshold, moments, pair, qp, chosen, squareRoots: true);

                Assert.Equal(Reference(rows, n, x, threshold, LibtorchRoots(moments), pair, qp), chosen);
                Assert.True(exact < rows, $"n {n} qp {qp} masked {masked}: every channel summed exactly");

                moments[0 * n + 1] = -1e-30f;
                moments[1 * n + n - 1] = float.NaN; // in the last, overlapping pass
                moments[2 * n] = float.PositiveInfinity;
                moments[3 * n + 2] = float.NegativeInfinity;
                x[4 * n + 3] = 1e6f; // beyond the mask's limit, with a negative moment: the reference's sum is NaN
                moments[4 * n + 3] = -2f;
                exact = FusedKernels.PairChoices(rows, n, x, threshold, moments, pair, qp, chosen, squareRoots: true);

                Assert.Equal(Reference(rows, n, x, threshold, LibtorchRoots(moments), pair, qp), chosen);
                Assert.True(exact >= 5, $"n {n}: {exact} channels summed exactly");
            }
    }

    [Theory]
    [InlineData(40, 6)]
    [InlineData(9, 16)]
    [InlineData(5, 8)]
    public void NonFiniteWeights_NaNSums_TheCeil_AsTheReference(int n, int rows)
    {
        const int qp = 7;
        foreach (var masked in new[] { false, true })
        {
            var (x, levels) = Layer(rows, n, 77);
            x[0 * n + 3] = float.PositiveInfinity;
            x[1 * n + Math.Min(33, n - 2)] = float.NaN;
            x[2 * n + n - 1] = float.NegativeInfinity; // in the last, overlapping pass of a vector row
            x[3 * n + 1] = float.NaN;
            var pair = Pair(levels);
            var threshold = masked ? Thresholds(levels, qp) : [];
            var chosen = new double[rows];

            FusedKernels.PairChoices(rows, n, x, threshold, [], pair, qp, chosen);

            var expected = Reference(rows, n, x, threshold, [], pair, qp);
            Assert.Equal(expected, chosen);
            for (int c = 0; c < 4; c++) Assert.Equal(pair[rows + c], chosen[c]);
        }
    }

    [Fact]
    public void SameCandidateTwice_ThatExponent()
    {
        var x = new float[] { 0.1f, -0.2f, 0.3f, 0.05f };
        var chosen = new double[1];
        Assert.Equal(0, FusedKernels.PairChoices(1, 4, x, [], [], [-3.0, -3.0], 7, chosen));
        Assert.Equal(-3.0, chosen[0]);
    }

    [Fact]
    public void FloatAtMost_KeepsEveryFloat32Comparison()
    {
        var random = new Random(5);
        var thresholds = new List<double> { 0, 1, 0.1, 1e-40, 1e-46, 3.5e38, 1e39, double.PositiveInfinity, double.NaN, -0.5, float.MaxValue, float.Epsilon };
        for (int i = 0; i < 2000; i++) thresholds.Add(Math.Pow(2, random.Next(-140, 128)) * (1 + random.NextDouble()));
        for (int i = 0; i < 200; i++)
        {
            float f = (float)(random.NextDouble() * 10);
            thresholds.Add(f);
            thresholds.Add(Math.BitIncrement((double)f));
            thresholds.Add(Math.BitDecrement((double)f));
        }
        foreach (var t in thresholds)
        {
            float limit = FusedKernels.FloatAtMost(t);
            float near = (float)t;
            foreach (var v in new[] { near, MathF.BitIncrement(near), MathF.BitDecrement(near), MathF.BitIncrement(MathF.BitIncrement(near)), 0f, float.PositiveInfinity, float.MaxValue })
                Assert.True(Math.Abs((double)v) <= t == MathF.Abs(v) <= limit, $"t {t:R}, v {v:R}, limit {limit:R}");
        }
    }
    /// <summary>
    /// learnable_po2's mask limits without libtorch (<see cref="FusedKernels.MaskLimits"/>): where they are settled, each
    /// is the largest float32 ≤ libtorch's exp2(l)·(qp + 0.5), so every float32 weight falls on the same side of both.
    /// Integer l (a threshold that is itself a float32) and |l| &gt; 100 are left to libtorch.
    /// </summary>
    [Fact]
    public void MaskLimits_SettledOnesAreLibtorchsThresholdsAsFloat32WeightsSeeThem()
    {
        using var scope = torch.NewDisposeScope();
        var random = new Random(11);
        int settled = 0, total = 0;
        foreach (var factor in new[] { 7.5, 1.5, 3.5, 127.5 })
        {
            var levels = new float[4000];
            for (int i = 0; i < levels.Length; i++) levels[i] = (float)(random.NextDouble() * 60 - 30);
            using var l = torch.tensor(levels).to_type(ScalarType.Float64);
            using var reference = torch.exp2(l).mul(factor);
            var t = reference.data<double>().ToArray();
            var limits = new double[1];
            for (int c = 0; c < levels.Length; c++)
            {
                total++;
                if (!FusedKernels.MaskLimits(levels.AsSpan(c, 1), factor, limits)) continue;
                settled++;
                float limit = FusedKernels.FloatAtMost(t[c]);
                Assert.True(limits[0] == limit, $"l {levels[c]:R}, factor {factor}: {limits[0]:R}, libtorch's as float32 {limit:R}");
                foreach (var v in new[] { limit, MathF.BitIncrement(limit), MathF.BitDecrement(limit), -MathF.BitIncrement(limit) })
                    Assert.Equal(Math.Abs((double)v) <= t[c], Math.Abs((double)v) <= limits[0]);
            }
        }
        Assert.True(settled > total * 99 / 100, $"settled {settled} of {total}");

        var one = new double[1];
        Assert.False(FusedKernels.MaskLimits([-3f], 7.5, one)); // 7.5 · 2^−3 is a float32: the band straddles it
        Assert.False(FusedKernels.MaskLimits([100.5f], 7.5, one));
        Assert.False(FusedKernels.MaskLimits([float.NaN], 7.5, one));
        Assert.True(FusedKernels.MaskLimits([-3.3f, 2.7f], 7.5, new double[2]));
        Assert.False(FusedKernels.MaskLimits([-3.3f, 2f], 7.5, new double[2])); // one channel unsettled: libtorch for all

        // The ends of float32's normal range: a limit at or past float.MaxValue, or below 2^−126, is left to libtorch;
        // the ones settled next to them are libtorch's.
        Assert.False(FusedKernels.MaskLimits([99.7f], Math.Pow(2, 30), one));   // 2^129.7
        Assert.False(FusedKernels.MaskLimits([-99.7f], 1e-10, one));            // 2^−132.9, subnormal as a float32
        foreach (var (level, factor) in new[] { (100f, 7.5), (-100f, 1.5), (99.99f, 127.5), (-99.99f, 1.5), (-99.5f, 2.0e-8), (97.3f, 1.9e9) })
        {
            using var l = torch.tensor(new[] { (double)level });
            using var reference = torch.exp2(l).mul(factor);
            double t = reference.data<double>()[0];
            if (FusedKernels.MaskLimits([level], factor, one)) Assert.Equal(FusedKernels.FloatAtMost(t), one[0]);
            else Assert.True(t * (1 - 1e-12) < 1.1754943508222875E-38 || t * (1 + 1e-12) >= float.MaxValue || (double)(float)t == t, $"l {level}, factor {factor}: unsettled");
        }
    }

    /// <summary>
    /// The 2^l behind the mask limits (<see cref="FusedKernels.Exp2"/>, a table and a polynomial instead of the C library's
    /// pow) is within a relative 2⁻⁴⁸ of libtorch's exp2 over float32 levels in [−100, 100]: random ones, those on and
    /// next to multiples of 1/64 (the table's joints), integers, and tiny ones of both signs (whose remainder rounds).
    /// MaskLimits' band of 2⁻⁴⁰ assumes a few ULP.
    /// </summary>
    [Fact]
    public void Exp2_WithinAFewUlpOfLibtorchsExp2()
    {
        var random = new Random(3);
        var levels = new List<float>();
        for (int i = 0; i < 20000; i++) levels.Add((float)(random.NextDouble() * 200 - 100));
        for (int k = -6400; k <= 6400; k += 7)
        {
            float joint = k / 64f;
            levels.AddRange([joint, MathF.BitIncrement(joint), MathF.BitDecrement(joint)]);
        }
        levels.AddRange([100f, -100f, 0f, -0f, 1e-40f, -1e-40f, 1e-20f, -1e-20f, float.Epsilon, -float.Epsilon, -0.001f, 0.001f]);

        using var scope = torch.NewDisposeScope();
        var reference = torch.exp2(torch.tensor(levels.ToArray()).to_type(ScalarType.Float64)).data<double>().ToArray();
        for (int i = 0; i < levels.Count; i++)
        {
            double error = Math.Abs(FusedKernels.Exp2(levels[i]) - reference[i]) / reference[i];
            Assert.True(error <= Math.ScaleB(1, -48), $"l {levels[i]:R}: {FusedKernels.Exp2(levels[i]):R}, libtorch's {reference[i]:R}");
        }
    }
}
