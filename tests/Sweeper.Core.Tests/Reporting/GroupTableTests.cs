using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using static Sweeper.Core.Tests.Reporting.Runs;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Tests.Reporting;

public class GroupTableTests
{
    private const string Lr = "trainable.optimizer.lr";
    private const string Width = "trainable.width";
    private const string Bits = "trainable.quantizer.bits";

    [Theory]
    [InlineData(new[] { 1.0, 2.0, 3.0 }, 3, 2.0, 1.0)]
    [InlineData(new[] { 0.8, 0.8 }, 2, 0.8, 0.0)]
    [InlineData(new[] { 0.5 }, 1, 0.5, double.NaN)] // one seed: no spread
    [InlineData(new[] { 1.0, double.NaN, 3.0 }, 2, 2.0, 1.4142135623730951)] // NaN is left out, not counted
    [InlineData(new[] { double.PositiveInfinity, 2.0, double.NegativeInfinity }, 1, 2.0, double.NaN)]
    [InlineData(new[] { double.NaN }, 0, double.NaN, double.NaN)]
    [InlineData(new double[0], 0, double.NaN, double.NaN)]
    public void SeedStatsOf_Values_CountMeanSampleStd(double[] values, int count, double mean, double std)
    {
        var s = SeedStats.Of(values);

        Assert.Equal(count, s.Count);
        Assert.Equal(mean, s.Mean, 12);
        Assert.Equal(std, s.Std, 12);
    }

    [Fact]
    public void SeedStatsOf_LargeNearlyEqualValues_StdStaysAccurate()
    {
        // A one-pass sum of squares loses every digit here; the two-pass form keeps them.
        var s = SeedStats.Of([1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.3]);

        Assert.Equal(0.1, s.Std, 6);
        Assert.Equal(1e9 + 0.1, s.Min);
        Assert.Equal(1e9 + 0.3, s.Max);
    }

    [Fact]
    public void From_RepeatsOfTwoConfigurations_MeanAndStdOverSeedsBestFirst()
    {
        var result = SweepOf([
            Trial(1, 0, 0, 0.70, parameters: [(Lr, 0.01)]), Trial(2, 0, 1, 0.72, parameters: [(Lr, 0.01)]), Trial(3, 0, 2, 0.74, parameters: [(Lr, 0.01)]),
            Trial(4, 1, 0, 0.80, parameters: [(Lr, 0.1)]), Trial(5, 1, 1, 0.90, parameters: [(Lr, 0.1)]),
        ]);

        var table = GroupTable.From(result);

        Assert.True(table.ByConfiguration);
        Assert.True(table.PoolsTrials);
        Assert.Equal([Lr], table.Keys);
        Assert.Equal(2, table.Groups.Count);
        var best = table.Groups[0];
        Assert.Equal(["0.1"], best.Values);
        Assert.Equal(0.85, best.Objective.Mean, 12);
        Assert.Equal(Math.Sqrt(0.005), best.Objective.Std, 12);
        var second = table.Groups[1];
        Assert.Equal([1, 2, 3], second.Trials.Select(t => t.Id.Index));
        Assert.Equal(0.72, second.Objective.Mean, 12);
        Assert.Equal(0.02, second.Objective.Std, 12);
        Assert.Equal(0.70, second.Objective.Min, 12);
        Assert.Equal(0.74, second.Objective.Max, 12);
    }

    [Fact]
    public void From_FailedStoppedAndNaNTrials_CountedButLeftOutOfTheMean()
    {
        var result = SweepOf([
            Trial(1, 0, 0, 0.60),
            Trial(2, 0, 1, 0.10, TrialState.Failed),   // its last value is no seed's result
            Trial(3, 0, 2, 0.30, TrialState.Stopped),  // stopped early: a value at a lower epoch
            Trial(4, 0, 3, double.NaN),                // completed, but diverged
            Trial(5, 0, 4, 0.80),
        ]);

        var g = Assert.Single(GroupTable.From(result).Groups);

        Assert.Equal(5, g.Trials.Count);
        Assert.Equal(3, g.Completed);
        Assert.Equal(2, g.Objective.Count);
        Assert.Equal(0.70, g.Objective.Mean, 12);
        var csv = GroupTable.From(result).CsvRows();
        Assert.Equal("2", csv.Rows[0][csv.Columns.ToList().IndexOf("n")]);
    }

    [Fact]
    public void From_GroupWithoutAnyValue_RankedLastWithoutRank()
    {
        var result = SweepOf([
            Trial(1, 0, 0, double.NaN, parameters: [(Lr, 1.0)]), Trial(2, 0, 1, 0.1, TrialState.Failed, parameters: [(Lr, 1.0)]),
            Trial(3, 1, 0, 0.5, parameters: [(Lr, 0.1)]),
        ]);

        var text = GroupTable.From(result).Text();

        Assert.Equal(["1", "0.1"], text.Rows[0].Take(2));
        Assert.Equal(["-", "1"], text.Rows[1].Take(2));
        Assert.Equal("", text.Rows[1][text.Columns.ToList().IndexOf("test_accuracy (mean ± std)")]);
    }

    [Fact]
    public void From_MinimizedObjective_SmallestMeanFirst()
    {
        var result = SweepOf([Trial(1, 0, 0, 0.9, parameters: [(Lr, 0.1)]), Trial(2, 1, 0, 0.2, parameters: [(Lr, 0.3)]), Trial(3, 2, 0, 0.5, parameters: [(Lr, 0.5)])], ObjectiveMode.Min);

        Assert.Equal(["0.3", "0.5", "0.1"], GroupTable.From(result).Groups.Select(g => g.Values[0]));
    }

    [Fact]
    public void From_GroupByOneKey_PoolsTheOtherParameters()
    {
        var result = SweepOf([
            Trial(1, 0, 0, 0.6, parameters: [(Lr, 0.1), (Width, 0.25)]), Trial(2, 1, 0, 0.7, parameters: [(Lr, 0.1), (Width, 0.5)]),
            Trial(3, 2, 0, 0.8, parameters: [(Lr, 0.3), (Width, 0.25)]), Trial(4, 3, 0, 0.9, parameters: [(Lr, 0.3), (Width, 0.5)]),
        ]);

        var byWidth = GroupTable.From(result, ["width"]);

        Assert.False(byWidth.ByConfiguration);
        Assert.Equal([Width], byWidth.Keys);
        Assert.Equal([["0.5"], ["0.25"]], byWidth.Groups.Select(g => g.Values));
        Assert.Equal([0.8, 0.7], byWidth.Groups.Select(g => Math.Round(g.Objective.Mean, 12)));
        Assert.Equal([[2, 4], [1, 3]], byWidth.Groups.Select(g => g.Trials.Select(t => t.Id.Index)));
        // Without keys every configuration is its own group: nothing is pooled.
        Assert.False(GroupTable.From(result).PoolsTrials);
    }

    [Fact]
    public void From_ConfigIndexesMissing_DifferentParametersNeverLumpedTogether()
    {
        // A journal without config indexes reads them as 0: the parameter values still tell configurations apart.
        var result = SweepOf([Trial(1, 0, 0, 0.6, parameters: [(Lr, 0.1)]), Trial(2, 0, 0, 0.7, parameters: [(Lr, 0.3)])]);

        Assert.Equal(2, GroupTable.From(result).Groups.Count);
    }

    [Theory]
    [InlineData("bits", Bits)]
    [InlineData("quantizer.bits", Bits)]
    [InlineData(Bits, Bits)]
    [InlineData(" lr ", Lr)]
    public void ResolveKeys_FullKeyOrUniqueLastParts_TheParameterKey(string requested, string expected)
    {
        var result = SweepOf([Trial(1, 0, 0, 0.5, parameters: [(Lr, 0.1), (Bits, 4L)])]);

        Assert.Equal([expected], GroupTable.ResolveKeys(result, [requested]));
    }

    [Fact]
    public void ResolveKeys_UnknownAndAmbiguousKeys_OneErrorNamingTheSweptParameters()
    {
        var result = SweepOf([Trial(1, 0, 0, 0.5, parameters: [(Lr, 0.1), ("trainable.scheduler.lr", 0.2), (Bits, 4L)])]);

        var ex = Assert.Throws<ArgumentException>(() => GroupTable.ResolveKeys(result, ["depth", "lr"]));

        Assert.Contains("'depth' is not a swept parameter", ex.Message);
        Assert.Contains("'lr' is ambiguous (trainable.optimizer.lr, trainable.scheduler.lr)", ex.Message);
        Assert.Contains("the swept parameters are: trainable.optimizer.lr, trainable.scheduler.lr, trainable.quantizer.bits", ex.Message);
    }

    [Fact]
    public void From_FlipsAndResumes_MeanFlipsOfTheLastEpochAndResumesSummed()
    {
        var result = SweepOf([
            Trial(1, 0, 0, 0.6, lastMetrics: new Dictionary<string, double> { ["quant.flips_total"] = 10 }, resumes: 1),
            Trial(2, 0, 1, 0.7, lastMetrics: new Dictionary<string, double> { ["quant.flips_total"] = 30 }, resumes: 2),
            Trial(3, 0, 2, 0.8), // reports no flips: not part of the flips mean
        ]);

        var g = Assert.Single(GroupTable.From(result).Groups);
        var text = GroupTable.From(result).Text();

        Assert.Equal(20, g.Flips);
        Assert.Equal(3, g.Resumes);
        Assert.Equal(["1", "3", "3", "0.7000 ± 0.1000", "0.6000", "0.8000", "3", "20.0", "10.0", ""], text.Rows[0]); // + flips per epoch (2 epochs), no clipped fraction
        Assert.Equal("flips/epoch", text.Columns[^2]);
    }

    [Fact]
    public void From_ValidationObjective_TestBesideItRestartsAndClippedFraction()
    {
        var trials = new[]
        {
            Trial(1, 0, 0, 0.5, lastMetrics: new Dictionary<string, double> { [MetricNames.ValAccuracy] = 0.70, ["quant.clipped_fraction"] = 0.01, ["quant.flips_total"] = 8 }),
            Trial(2, 0, 1, 0.6, lastMetrics: new Dictionary<string, double> { [MetricNames.ValAccuracy] = 0.80, ["quant.clipped_fraction"] = 0.03, ["quant.flips_total"] = 4 }) with
            {
                Attempts = [new TrialAttempt { Number = 1, Verdict = StabilityKind.Oscillating }, new TrialAttempt { Number = 2 }],
            },
        };
        var result = new SweepResult("s", new ObjectiveSpec(MetricNames.ValAccuracy, ObjectiveMode.Max), trials, Runs.Start, Runs.Start);

        var table = GroupTable.From(result);
        var g = Assert.Single(table.Groups);
        var text = table.Text();
        var csv = table.CsvRows();

        Assert.Equal(0.75, g.Objective.Mean, 12);
        Assert.Equal(0.55, g.Test.Mean, 12); // the test accuracy of the same trials, for the record
        Assert.Equal(1, g.Restarts);
        Assert.Equal(3.0, g.FlipsPerEpoch, 12); // (8/2 + 4/2) / 2
        Assert.Equal(0.02, g.Clipped, 12);
        Assert.Equal(["rank", "trials", "completed", "val_accuracy (mean ± std)", "min", "max", "test_accuracy (mean ± std)", "resumes", "flips", "restarts", "flips/epoch", "clipped"], text.Columns);
        Assert.Equal(["1", "2", "2", "0.7500 ± 0.0707", "0.7000", "0.8000", "0.5500 ± 0.0707", "0", "6.0", "1", "3.0", "0.0200"], text.Rows[0]);
        Assert.Contains("test_accuracy_mean", csv.Columns);
        Assert.Contains("clipped_fraction_mean", csv.Columns);
    }

    [Fact]
    public void Csv_FullPrecisionColumnsAndTrialIds()
    {
        var result = SweepOf([Trial(1, 0, 0, 0.1, parameters: [(Lr, 0.1)]), Trial(2, 0, 1, 0.2, parameters: [(Lr, 0.1)])]);

        var lines = GroupTable.From(result).Csv().Split('\n');

        Assert.Equal("rank,trainable.optimizer.lr,trials,completed,n,test_accuracy_mean,test_accuracy_std,test_accuracy_min,test_accuracy_max,resumes,flips_mean,trial_ids", lines[0]);
        var cells = lines[1].Split(',');
        Assert.Equal(["1", "0.1", "2", "2", "2"], cells[..5]);
        Assert.Equal(0.15, double.Parse(cells[5], System.Globalization.CultureInfo.InvariantCulture), 15);
        Assert.Equal(Math.Sqrt(0.005), double.Parse(cells[6], System.Globalization.CultureInfo.InvariantCulture), 15);
        Assert.Equal(["0.1", "0.2", "0", "", "t0001 t0002"], cells[7..]);
        Assert.True(cells[6].Length > 10, $"std written at full precision: {cells[6]}");
    }

    [Fact]
    public void WriteAll_RepeatedConfigurations_SummaryEndsWithTheGroupsSection()
    {
        var dir = Directory.CreateTempSubdirectory("sweeper-groups-").FullName;
        try
        {
            var repeated = SweepOf([Trial(1, 0, 0, 0.6, parameters: [(Lr, 0.1)]), Trial(2, 0, 1, 0.8, parameters: [(Lr, 0.1)])]);
            ReportWriter.WriteAll(repeated, dir);
            var summary = File.ReadAllText(Path.Combine(dir, ReportWriter.SummaryFile));
            Assert.EndsWith("| 1 | 0.1 | 2 | 2 | 0.7000 ± 0.1414 | 0.6000 | 0.8000 | 0 |  |\n", summary);
            Assert.Contains("\n## Groups by configuration", summary);

            var single = SweepOf([Trial(1, 0, 0, 0.6, parameters: [(Lr, 0.1)]), Trial(2, 1, 0, 0.8, parameters: [(Lr, 0.3)])]);
            ReportWriter.WriteAll(single, dir);
            var plain = File.ReadAllText(Path.Combine(dir, ReportWriter.SummaryFile));
            Assert.Equal(ReportWriter.Markdown(single, ResultTable.From(single)), plain);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
