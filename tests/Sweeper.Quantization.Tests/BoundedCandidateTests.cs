using Sweeper.Quantization.Po2;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// The line search's bounded candidate pass (<see cref="FusedKernels.RowCandidateErrorsBounded"/>): a candidate that
/// runs to the end has <see cref="FusedKernels.CandidateErrors"/>' bits; a candidate stops early only where libtorch's sum
/// of its errors is above the bound, never where that sum equals it; with a negative weight nothing stops.
/// </summary>
public sealed class BoundedCandidateTests
{
    private const int Qp = 7;
    private static readonly double[] Offsets = [-3, -2, -1, 1, 2, 3];

    /// <summary>A row of <paramref name="n"/> values around 2^−4 (the candidates' steps span 2^−7 … 2^−1), with outliers.</summary>
    private static double[] Row(int n, int seed)
    {
        var random = new Random(seed);
        var row = new double[n];
        for (int i = 0; i < n; i++)
        {
            double gauss = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            row[i] = (i % 13 == 5 ? 3.0 : 0.05) * gauss;
        }
        return row;
    }

    private static double[] Weights(int n, int seed)
    {
        var random = new Random(seed + 1);
        return Enumerable.Range(0, n).Select(i => i % 5 == 2 ? 0.0 : random.NextDouble() * 2).ToArray();
    }

    private static double[] Candidates(double center) => Offsets.Select(o => center + o).ToArray();

    /// <summary>The reference: every candidate's whole row of errors, and libtorch's sum of each.</summary>
    private static (double[] Errors, double[] Sums) Reference(double[] row, double[] weights, double[] candidates)
    {
        int n = row.Length, k = candidates.Length;
        var errors = new double[k * n];
        FusedKernels.CandidateErrors(k, 1, n, row, weights, candidates, Qp, errors, 0);
        using var tensor = torch.tensor(errors, [k, n], ScalarType.Float64);
        using var sums = tensor.sum([1]);
        return (errors, sums.data<double>().ToArray());
    }

    public static TheoryData<int> Lengths() => new() { 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 130, 288, 480, 1000 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void NoBound_EveryCandidateWhole_BitsOfCandidateErrors(int n)
    {
        foreach (var weighted in new[] { false, true })
        {
            var row = Row(n, n);
            var weights = weighted ? Weights(n, n) : [];
            var candidates = Candidates(-4);
            var (expected, _) = Reference(row, weights, candidates);
            var errors = new double[candidates.Length * n];
            var alive = new bool[candidates.Length];
            FusedKernels.RowCandidateErrorsBounded(candidates.Length, row, weights, candidates, Qp, errors, double.PositiveInfinity, alive);
            Assert.All(alive, Assert.True);
            Assert.Equal(expected.Select(BitConverter.DoubleToInt64Bits), errors.Select(BitConverter.DoubleToInt64Bits));
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void BoundAtACandidatesOwnSum_ThatCandidateRunsToTheEnd(int n)
    {
        // The decision is "sum < best": a candidate whose sum equals the bound is not taken, but the pass may only stop
        // candidates whose sum is certainly above it. A naive partial sum can exceed libtorch's sum of the same terms by a
        // rounding; without the margin such a candidate would stop.
        for (int seed = 0; seed < 40; seed++)
        {
            var row = Row(n, 1000 * n + seed);
            var weights = seed % 2 == 0 ? [] : Weights(n, seed);
            var candidates = Candidates(-4 - seed % 3);
            var (expected, sums) = Reference(row, weights, candidates);
            for (int j = 0; j < candidates.Length; j++)
            {
                var errors = new double[candidates.Length * n];
                var alive = new bool[candidates.Length];
                FusedKernels.RowCandidateErrorsBounded(candidates.Length, row, weights, candidates, Qp, errors, sums[j], alive);
                Assert.True(alive[j], $"n {n}, seed {seed}: candidate {j} with sum {sums[j]:R} stopped under the bound {sums[j]:R}");
                Assert.Equal(expected.AsSpan(j * n, n).ToArray().Select(BitConverter.DoubleToInt64Bits), errors.AsSpan(j * n, n).ToArray().Select(BitConverter.DoubleToInt64Bits));
                for (int other = 0; other < candidates.Length; other++)
                    if (!alive[other]) Assert.True(sums[other] > sums[j], $"candidate {other} stopped with sum {sums[other]:R} ≤ bound {sums[j]:R}");
            }
        }
    }

    [Fact]
    public void SmallBound_CandidatesStopEarly_OnlyAboveIt()
    {
        // A long row: the candidates far from the best exceed a bound at the best's sum within the first blocks.
        int n = 4096;
        var row = Row(n, 7);
        var candidates = Candidates(-5);
        var (_, sums) = Reference(row, [], candidates);
        double best = sums.Min();
        var errors = new double[candidates.Length * n];
        Array.Fill(errors, double.NaN);
        var alive = new bool[candidates.Length];
        FusedKernels.RowCandidateErrorsBounded(candidates.Length, row, [], candidates, Qp, errors, best, alive);
        Assert.Contains(false, alive);
        for (int j = 0; j < candidates.Length; j++)
        {
            if (alive[j]) continue;
            Assert.True(sums[j] > best);
            // It stopped before the end of its row (the rest is not written).
            Assert.True(double.IsNaN(errors[(j + 1) * n - 1]), $"candidate {j} ran to the end of its row");
        }
    }

    [Fact]
    public void NegativeWeight_NothingStops()
    {
        int n = 300;
        var row = Row(n, 11);
        var weights = Weights(n, 11);
        weights[200] = -1e-3;
        var candidates = Candidates(-4);
        var errors = new double[candidates.Length * n];
        var alive = new bool[candidates.Length];
        FusedKernels.RowCandidateErrorsBounded(candidates.Length, row, weights, candidates, Qp, errors, 0.0, alive);
        Assert.All(alive, Assert.True);
    }

    [Fact]
    public void NaNTermOrNaNBound_RunsToTheEnd()
    {
        int n = 200;
        var row = Row(n, 13);
        row[3] = double.NaN;
        var candidates = Candidates(-4);
        var alive = new bool[candidates.Length];
        FusedKernels.RowCandidateErrorsBounded(candidates.Length, row, [], candidates, Qp, new double[candidates.Length * n], 0.0, alive);
        Assert.All(alive, Assert.True);

        row[3] = 0.01;
        FusedKernels.RowCandidateErrorsBounded(candidates.Length, row, [], candidates, Qp, new double[candidates.Length * n], double.NaN, alive);
        Assert.All(alive, Assert.True);
    }
}
