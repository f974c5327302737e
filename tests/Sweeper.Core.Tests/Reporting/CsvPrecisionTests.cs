using System.Globalization;
using Sweeper.Core.Reporting;
using Sweeper.Core.Trials;
using static Sweeper.Core.Tests.Reporting.Runs;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Tests.Reporting;

/// <summary>results.csv and epochs.csv hold every number at full precision; summary.md keeps rounding for reading.</summary>
public sealed class CsvPrecisionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-csv-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const double Accuracy = 0.123456789012345;
    private const double Lr = 0.00012345678901234567;

    /// <summary>t0001: two epochs, restarted for instability after epoch 1; t0002: one epoch with a NaN loss and a metric named "epoch".</summary>
    private static SweepResult Sweep()
    {
        var restarted = Trial(1, 0, 0, Accuracy, parameters: [("trainable.optimizer.lr", Lr), ("trainable.quantizer.method", "msqe_po2")]) with
        {
            Epochs =
            [
                new EpochResult(1, new Dictionary<string, double> { [MetricNames.TestAccuracy] = 0.1 + 0.2, [MetricNames.TrainLoss] = 1.0 / 3 }, TimeSpan.FromTicks(13918004033)),
                new EpochResult(2, new Dictionary<string, double> { [MetricNames.TestAccuracy] = Accuracy, [MetricNames.TrainLoss] = 1e-17, ["quant.flips_epoch"] = 3 }, TimeSpan.FromTicks(42867502108)),
            ],
            FinishedAt = Start.AddTicks(123456789),
            Attempts = [new TrialAttempt { Number = 1, FromEpoch = 0 }, new TrialAttempt { Number = 2, FromEpoch = 1, Verdict = StabilityKind.Oscillating }],
        };
        var odd = Trial(2, 1, 0, 0.5, TrialState.Failed, parameters: [("trainable.optimizer.lr", 0.1), ("trainable.quantizer.method", "=cmd")], epochs: 1) with
        {
            Epochs = [new EpochResult(1, new Dictionary<string, double> { [MetricNames.TestAccuracy] = 0.5, [MetricNames.TrainLoss] = double.NaN, ["epoch"] = 7 }, TimeSpan.FromSeconds(1))],
        };
        return SweepOf([odd, restarted]);
    }

    [Fact]
    public void ResultsCsv_Exact_MetricsParametersAndDurationsRoundTrip()
    {
        var result = Sweep();

        ReportWriter.WriteAll(result, _dir);

        var lines = File.ReadAllLines(Path.Combine(_dir, ReportWriter.CsvFile));
        Assert.Equal("rank,trial,state,trainable.optimizer.lr,trainable.quantizer.method,epochs,test_accuracy,test_loss,train_loss,duration_s,resumed_from,restarts,verdict,reason", lines[0]);
        var best = lines[1].Split(',');
        Assert.Equal("t0001", best[1]);
        Assert.Equal("0.123456789012345", best[6]);
        Assert.Equal(Accuracy, double.Parse(best[6], CultureInfo.InvariantCulture));
        Assert.Equal(Lr, double.Parse(best[3], CultureInfo.InvariantCulture));
        Assert.Equal(1e-17, double.Parse(best[8], CultureInfo.InvariantCulture));
        Assert.Equal(TimeSpan.FromTicks(123456789).TotalSeconds, double.Parse(best[9], CultureInfo.InvariantCulture));
        Assert.Equal("'=cmd", lines[2].Split(',')[4]); // still neutralised against formula injection
        // summary.md rounds for reading.
        var summary = File.ReadAllText(Path.Combine(_dir, ReportWriter.SummaryFile));
        Assert.Contains("| 0.1235 |", summary);
        Assert.DoesNotContain("0.123456789012345", summary);
    }

    [Fact]
    public void EpochsCsv_OneRowPerTrialPerEpoch_AttemptParametersEveryMetricAndDuration()
    {
        var result = Sweep();

        ReportWriter.WriteAll(result, _dir);

        var lines = File.ReadAllLines(Path.Combine(_dir, ReportWriter.EpochsCsvFile));
        Assert.Equal("trial,state,attempt,trainable.optimizer.lr,trainable.quantizer.method,epoch,metric:epoch,quant.flips_epoch,test_accuracy,train_loss,duration_s", lines[0]);
        Assert.Equal(4, lines.Length); // trial order, then epoch order
        var lr = Lr.ToString("R", CultureInfo.InvariantCulture);
        Assert.Equal($"t0001,completed,1,{lr},msqe_po2,1,,,0.30000000000000004,0.3333333333333333,1391.8004033", lines[1]);
        Assert.Equal($"t0001,completed,2,{lr},msqe_po2,2,,3,0.123456789012345,1E-17,4286.7502108", lines[2]);
        Assert.Equal("t0002,failed,,0.1,'=cmd,1,7,,0.5,NaN,1", lines[3]);
        var cells = lines[2].Split(',');
        Assert.Equal(Lr, double.Parse(cells[3], CultureInfo.InvariantCulture));
        Assert.Equal(Accuracy, double.Parse(cells[8], CultureInfo.InvariantCulture));
        Assert.Equal(TimeSpan.FromTicks(42867502108).TotalSeconds, double.Parse(cells[10], CultureInfo.InvariantCulture));
    }

    [Fact]
    public void EpochsCsv_NoEpochs_HeaderOnly()
    {
        var result = SweepOf([Trial(1, 0, 0, 0.5, TrialState.Pending, parameters: [("a", 1L)]) with { Epochs = [] }]);

        Assert.Equal("trial,state,attempt,a,epoch,duration_s\n", ReportWriter.Csv(ReportWriter.EpochTable(result)));
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(4, 2)]
    [InlineData(9, 3)]
    public void AttemptOf_Epoch_TheNewestAttemptStartedBeforeIt(int epoch, int? expected)
    {
        var trial = Trial(1, 0, 0, 0.5) with
        {
            Attempts = [new TrialAttempt { Number = 1 }, new TrialAttempt { Number = 2, FromEpoch = 3 }, new TrialAttempt { Number = 3, FromEpoch = 5 }],
        };

        Assert.Equal(expected, TrialLineage.AttemptOf(trial, epoch));
        Assert.Null(TrialLineage.AttemptOf(trial with { Attempts = [] }, epoch));
    }
}
