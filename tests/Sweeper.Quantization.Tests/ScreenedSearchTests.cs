using Sweeper.Quantization.Po2;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// The msqe_po2 search started from screened sums (sums of the first evaluation taken in any order, decided where a
/// rounding bound makes them certain, <c>Po2Quantizers.ScreenedFixedPoint</c>) against the reference op chain
/// (<see cref="FusedKernels.ReferenceOnly"/>): every exponent the search returns, bit for bit, on searches that start at
/// the previous step's exponent as training's do, and on rows built so that a line-search candidate ties the start
/// exactly (its sum must then be compared with libtorch's sum of the start's errors, not with the screened one).
/// </summary>
public sealed class ScreenedSearchTests
{
    private static Po2Quantizers.MsqeCoreResult Search(Tensor x, int qp, Tensor? init, double? sigma, bool reference, int llsIters = 3, Tensor? weights = null)
    {
        FusedKernels.ReferenceOnly = reference;
        try
        {
            return Po2Quantizers.MsqeCore(x, qp, init, llsIters, lineSearch: true, lineSearchRange: 6, sigma, weights, keepMatrices: false);
        }
        finally
        {
            FusedKernels.ReferenceOnly = false;
        }
    }

    private static void AssertSameExponents(Po2Quantizers.MsqeCoreResult expected, Po2Quantizers.MsqeCoreResult actual, string what)
    {
        FusedKernelTests.AssertSameBits(expected.Init, actual.Init, $"{what} init");
        FusedKernelTests.AssertSameBits(expected.Lls, actual.Lls, $"{what} lls");
        FusedKernelTests.AssertSameBits(expected.LineSearch, actual.LineSearch, $"{what} line search");
        FusedKernelTests.AssertSameBits(expected.Final, actual.Final, $"{what} final");
    }

    [Fact]
    public void CandidateTyingTheStart_ComparedWithLibtorchsSum()
    {
        // One element 3, qp 1 (2 bits): exponent 2 (code 1 → 4) and exponent 1 (code 1 → 2) both err by 1; least squares
        // gives R(log2 3) = 2, the start. The candidate 1 ties it: libtorch's sums make it no better, so 2 stays.
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new[] { 3.0, 3.0, -3.0 }, [3, 1], ScalarType.Float64);
        var init = torch.tensor(new[] { 2.0, 2.0, 2.0 });
        long screened = Po2Quantizers.ScreenedSearches, settled = Po2Quantizers.SettledRows;
        var actual = Search(x, 1, init, null, reference: false);
        Assert.Equal(screened + 1, Po2Quantizers.ScreenedSearches);
        Assert.True(Po2Quantizers.SettledRows >= settled + 3, $"settled rows: {Po2Quantizers.SettledRows - settled}");
        AssertSameExponents(Search(x, 1, init, null, reference: true), actual, "tie");
        Assert.Equal([2.0, 2.0, 2.0], actual.Final.data<double>().ToArray());
    }

    public static TheoryData<int> Seeds => [1, 2, 3, 4, 5, 6];

    /// <summary>
    /// Training-like searches: random rows (float32 weights and float64 matrices, 1 to 300 elements, with and without the
    /// outlier mask, 2 to 8 bits, with and without second-moment weights: float32 roots widened, as the quantizer passes
    /// them, some 0), searched once from the data, then again from that exponent after a small move of the weights; half
    /// of the matrices sit on a coarse grid of powers of two, where candidates tie the start exactly.
    /// </summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public void TrainingLikeSearches_SameExponentsAsReference(int seed)
    {
        var random = new Random(seed);
        var weightRandom = new Random(seed + 100); // its own draws: the unweighted trials stay those of the same seed without weights
        long screened = Po2Quantizers.ScreenedSearches, settled = Po2Quantizers.SettledRows, weightedScreened = 0;
        int searches = 0, weightedSearches = 0;
        for (int trial = 0; trial < 60; trial++)
        {
            using var scope = torch.NewDisposeScope();
            int rows = random.Next(1, 40), n = random.Next(1, 300);
            int qp = (1 << random.Next(1, 8)) - 1;
            double? sigma = random.Next(2) == 0 ? null : 2.0;
            bool grid = random.Next(2) == 0, floats = random.Next(2) == 0, weighted = weightRandom.Next(2) == 0;
            var values = new double[rows * n];
            double scale = Math.Pow(2, random.Next(-12, 4));
            for (int i = 0; i < values.Length; i++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                values[i] = grid ? Math.Round(g * 4) * scale : g * scale;
            }
            var dtype = floats ? ScalarType.Float32 : ScalarType.Float64;
            var x0 = torch.tensor(values, [rows, n], ScalarType.Float64).to_type(dtype);
            // Second-moment weights: √v of an EMA of squared gradients, a float32 root widened to float64; some 0 (clipped
            // weights' gradients). On the grid, one power of two per row, which keeps its exact ties.
            var rowScales = Enumerable.Range(0, rows).Select(_ => (float)Math.ScaleB(1.0, weightRandom.Next(-6, 3))).ToArray();
            var weights = weighted
                ? torch.tensor(Enumerable.Range(0, rows * n).Select(i => grid ? rowScales[i / n] : i % 11 == 4 ? 0f : MathF.Sqrt((float)(weightRandom.NextDouble() * Math.Pow(2, weightRandom.Next(-30, 4))))).ToArray(), [rows, n])
                    .to_type(ScalarType.Float64)
                : null;
            var previous = Search(x0, qp, null, sigma, reference: true, weights: weights).Final;

            // The next step's weights: a small move, or (grid) the same values, where ties stay exact.
            var x1 = grid ? x0 : (x0.to_type(ScalarType.Float64) + torch.randn([rows, n], ScalarType.Float64, generator: new Generator((ulong)(seed * 1000 + trial))) * (scale * 1e-3)).to_type(dtype);
            long before = Po2Quantizers.ScreenedSearches;
            var expected = Search(x1, qp, previous, sigma, reference: true, weights: weights);
            var actual = Search(x1, qp, previous, sigma, reference: false, weights: weights);
            AssertSameExponents(expected, actual, $"trial {trial} ({rows}x{n}, qp {qp}, sigma {sigma}, grid {grid}, weighted {weighted}, {dtype})");
            searches++;
            if (weighted) { weightedSearches++; weightedScreened += Po2Quantizers.ScreenedSearches - before; }
        }

        Assert.True(Po2Quantizers.ScreenedSearches - screened >= searches / 4, $"screened {Po2Quantizers.ScreenedSearches - screened} of {searches} searches");
        Assert.True(weightedScreened >= weightedSearches / 4, $"screened {weightedScreened} of {weightedSearches} weighted searches");
        Assert.True(Po2Quantizers.SettledRows > settled, "no row was too close to call");
    }

    [Fact]
    public void NoRefits_ScreenedSumsStillSameExponents()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn([24, 50], ScalarType.Float32, generator: new Generator(7));
        var init = Search(x, 7, null, 2.0, reference: true).Final;
        long screened = Po2Quantizers.ScreenedSearches;
        var actual = Search(x, 7, init, 2.0, reference: false, llsIters: 0);
        Assert.Equal(screened + 1, Po2Quantizers.ScreenedSearches);
        AssertSameExponents(Search(x, 7, init, 2.0, reference: true, llsIters: 0), actual, "no refits");
    }

    /// <summary>A second-moment weight that is NaN, infinite or negative: the search takes libtorch's sums, and the reference's exponents.</summary>
    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-0.25)]
    public void NonFiniteOrNegativeSecondMomentWeights_TakeLibtorchsSums(double odd)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn([6, 20], ScalarType.Float32, generator: new Generator(5));
        var root = torch.rand([6, 20], ScalarType.Float64, generator: new Generator(6)).data<double>().ToArray();
        root[27] = odd;
        var weights = torch.tensor(root, [6, 20]);
        var init = Search(x, 7, null, 2.0, reference: true, weights: weights).Final;
        long screened = Po2Quantizers.ScreenedSearches;
        var actual = Search(x, 7, init, 2.0, reference: false, weights: weights);
        Assert.Equal(screened, Po2Quantizers.ScreenedSearches);
        AssertSameExponents(Search(x, 7, init, 2.0, reference: true, weights: weights), actual, $"weight {odd}");
    }

    [Fact]
    public void NonFiniteWeights_TakeLibtorchsSums()
    {
        using var scope = torch.NewDisposeScope();
        var values = torch.randn([6, 20], ScalarType.Float32, generator: new Generator(3)).data<float>().ToArray();
        values[5] = float.NaN;
        values[47] = float.PositiveInfinity;
        var x = torch.tensor(values, [6, 20]);
        var init = torch.zeros(6, ScalarType.Float64).add_(-2);
        long screened = Po2Quantizers.ScreenedSearches;
        var actual = Search(x, 7, init, null, reference: false);
        Assert.Equal(screened, Po2Quantizers.ScreenedSearches);
        AssertSameExponents(Search(x, 7, init, null, reference: true), actual, "non-finite");
    }
}
