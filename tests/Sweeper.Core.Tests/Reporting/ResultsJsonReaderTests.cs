using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using static Sweeper.Core.Tests.Reporting.Runs;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Tests.Reporting;

public class ResultsJsonReaderTests
{
    private static TrainableSpec Trainable(IReadOnlyList<KeyValuePair<string, object>> parameters) => new() { Dataset = new DatasetSpec(), Epochs = 2 }; // as Runs.Trial plans them

    [Fact]
    public void Read_WhatJsonWrote_WritesTheSameBytesAgain()
    {
        var odd = Trial(1, 0, 0, 0.5, parameters: [("trainable.optimizer.lr", 0.1), ("trainable.width", 1.0), ("trainable.quantizer.bits", 4L),
            ("trainable.quantizer.per_channel", true), ("trainable.quantizer.method", "msqe_po2"), ("trainable.optimizer.momentum", double.NaN)]) with
        {
            // Durations whose milliseconds or seconds do not convert back exactly with TimeSpan.FromSeconds.
            Epochs = [new EpochResult(1, new Dictionary<string, double> { ["test_accuracy"] = 0.1 + 0.2, ["test_loss"] = double.NaN, ["quant.fc.exponent_mean"] = -4.25 }, TimeSpan.FromTicks(13918004033)),
                      new EpochResult(2, new Dictionary<string, double> { ["test_accuracy"] = 1e-17, ["test_loss"] = double.PositiveInfinity }, TimeSpan.FromTicks(42867502108))],
            Worker = "akka.tcp://sweeper@10.0.0.2:4053",
            StartedAt = new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.FromHours(1)).AddTicks(1234567),
            Reason = "stopped: \"quoted\" <tag> ±",
            Rung = 2,
            Checkpoint = new CheckpointRef(2, "/runs/x/checkpoints/t0001-e2.ckpt"),
            Resumes = [new TrialResume(0, "worker left", Start), new TrialResume(2, "again", Start.AddTicks(3))],
        };
        var pending = Trial(2, 1, 1, 0.6, TrialState.Pending) with { Epochs = [], StartedAt = null, FinishedAt = null };
        var result = SweepOf([odd, pending]);
        var json = ReportWriter.Json(result);

        var back = ResultsJsonReader.Read(json, Trainable);

        Assert.Equal(json, ReportWriter.Json(back));
        // results.json holds no infinity (null, like NaN): the tables read back from it show an infinite loss as missing.
        Assert.Equal(ReportWriter.Csv(ResultTable.From(result)).Replace("Infinity", ""), ReportWriter.Csv(ResultTable.From(back)));
        Assert.Equal(ReportWriter.Markdown(result, ResultTable.From(result)).Replace("Infinity", ""), ReportWriter.Markdown(back, ResultTable.From(back)));
        Assert.Equal(13918004033, back.Trials[0].Epochs[0].Duration.Ticks);
        Assert.Equal([typeof(double), typeof(long), typeof(long), typeof(bool), typeof(string), typeof(string)],
            back.Trials[0].Config.Parameters.Select(p => p.Value.GetType())); // 1.0 is written as 1 and read as a whole number: same text either way
        Assert.Equal(1, back.Trials[1].Config.ConfigIndex);
        Assert.Equal(1, back.Trials[1].Config.Repeat);
        Assert.Equal(2, back.Trials[0].Config.Trainable.Epochs);
    }

    [Fact]
    public void ReadHeader_NameObjectiveAndTimes()
    {
        var result = SweepOf([Trial(1, 0, 0, 0.5)], ObjectiveMode.Min, "quant-paper");

        var header = ResultsJsonReader.ReadHeader(ReportWriter.Json(result));

        Assert.Equal(new ResultsJsonHeader("quant-paper", new ObjectiveSpec("test_accuracy", ObjectiveMode.Min), result.StartedAt, result.FinishedAt), header);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{\"sweep\": \"x\"}")]
    [InlineData("{\"sweep\": \"x\", \"objective\": {\"metric\": \"m\", \"mode\": \"sideways\"}, \"started_at\": \"2026-01-01T00:00:00.0000000+00:00\", \"finished_at\": \"2026-01-01T00:00:00.0000000+00:00\", \"trials\": []}")]
    public void Read_Malformed_InvalidDataException(string json)
    {
        Assert.Throws<InvalidDataException>(() => ResultsJsonReader.Read(json, Trainable));
    }

    [Theory]
    [InlineData(13918004033L)]
    [InlineData(42867502108L)]
    [InlineData(1L)]
    [InlineData(0L)]
    public void Milliseconds_TotalMillisecondsOfAnyDuration_ExactTicks(long ticks)
    {
        Assert.Equal(ticks, ResultsJsonReader.Milliseconds(TimeSpan.FromTicks(ticks).TotalMilliseconds).Ticks);
        Assert.Equal(ticks, ResultsJsonReader.Seconds(TimeSpan.FromTicks(ticks).TotalSeconds).Ticks);
    }
}
