using Sweeper.Core.Model;
using Sweeper.Training.Trainables.Command;

namespace Sweeper.Training.Tests.Trainables.Command;

public class CommandProtocolTests
{
    [Fact]
    public void Parse_EpochLine_MetricsWithLossAsTrainLossAndCheckpoint()
    {
        var line = Assert.IsType<EpochLine>(CommandProtocol.Parse("""{"epoch": 3, "val_accuracy": 0.91, "loss": 0.3, "checkpoint": "ckpt_3.pt"}"""));

        Assert.Equal(3, line.Epoch);
        Assert.Equal("ckpt_3.pt", line.Checkpoint);
        Assert.Equal(0.91, line.Metrics[MetricNames.ValAccuracy]);
        Assert.Equal(0.3, line.Metrics[MetricNames.TrainLoss]);
        Assert.Equal(2, line.Metrics.Count);
    }

    [Fact]
    public void Parse_EpochLineWithLossAndTrainLoss_KeepsBoth()
    {
        var line = Assert.IsType<EpochLine>(CommandProtocol.Parse("""{"epoch": 1, "loss": 0.5, "train_loss": 0.4}"""));

        Assert.Equal(0.4, line.Metrics[MetricNames.TrainLoss]);
        Assert.Equal(0.5, line.Metrics["loss"]);
    }

    [Theory]
    [InlineData("""{"step": 1, "loss": NaN}""", double.NaN)]
    [InlineData("""{"step": 1, "loss": Infinity}""", double.PositiveInfinity)]
    [InlineData("""{"step": 1, "loss":-Infinity, "grad_norm": 1}""", double.NegativeInfinity)]
    [InlineData("""{"step": 1, "loss": "NaN"}""", double.NaN)]
    [InlineData("""{"step": 1, "loss": 0.25, "note": "NaN, Infinity"}""", 0.25)]
    public void Parse_StepLineWithPythonLiterals_ReadsTheLoss(string text, double loss)
    {
        var line = Assert.IsType<StepLine>(CommandProtocol.Parse(text));

        Assert.Equal(1, line.Observation.Step);
        Assert.Equal(loss, line.Observation.Loss);
    }

    [Fact]
    public void Parse_StepLineWithExponents_ReportsLayersAndGradNorm()
    {
        var line = Assert.IsType<StepLine>(CommandProtocol.Parse("""{"step": 120, "loss": 0.7, "grad_norm": NaN, "lr": 0.01, "exponents": {"conv1": [-3, -4], "fc": [-5]}}"""));

        Assert.True(double.IsNaN(line.Observation.GradNorm!.Value));
        Assert.Collection(line.Observation.Layers!,
            l => { Assert.Equal("conv1", l.Name); Assert.Equal([-3, -4], l.Exponents); },
            l => { Assert.Equal("fc", l.Name); Assert.Equal([-5], l.Exponents); });
    }

    [Theory]
    [InlineData("""{"epoch": 1, "loss": 0.3""", "not valid JSON")]
    [InlineData("""{"epoch": "1"}""", "\"epoch\" is not an integer")]
    [InlineData("""{"epoch": 1.5}""", "\"epoch\" is not an integer")]
    [InlineData("""{"epoch": 0}""", "epochs count from 1")]
    [InlineData("""{"epoch": 1, "val_accuracy": "high"}""", "metric \"val_accuracy\" is not a number")]
    [InlineData("""{"epoch": 1, "checkpoint": 3}""", "\"checkpoint\" is not a file name")]
    [InlineData("""{"epoch": 1, "loss": 1, "loss": 2}""", "appears twice")]
    [InlineData("""{"step": 1}""", "needs \"loss\"")]
    [InlineData("""{"step": 1, "loss": 1, "grad_norm": -1}""", "negative")]
    [InlineData("""{"step": 1, "loss": 1, "exponents": {"a": [1.5]}}""", "is not an integer")]
    [InlineData("""{"step": 1, "epoch": 1, "loss": 1}""", "both")]
    [InlineData("""{"phase": "train"}""", "neither")]
    [InlineData("""{"epoch": 1, "loss": NaNa}""", "not valid JSON")]
    public void Parse_MalformedLine_SaysWhatIsWrong(string text, string problem)
    {
        var error = Assert.Throws<FormatException>(() => CommandProtocol.Parse(text));

        Assert.Contains(problem, error.Message);
    }

    [Theory]
    [InlineData("{\"a\": NaN}", "{\"a\": \"NaN\"}")]
    [InlineData("{\"a\": [NaN,-Infinity]}", "{\"a\": [\"NaN\",\"-Infinity\"]}")]
    [InlineData("{\"a\": \"x: NaN\"}", "{\"a\": \"x: NaN\"}")]
    [InlineData("{\"a\": \"q\\\" NaN\"}", "{\"a\": \"q\\\" NaN\"}")]
    public void QuoteNonFiniteLiterals_QuotesBareTokensOnly(string text, string expected) =>
        Assert.Equal(expected, CommandProtocol.QuoteNonFiniteLiterals(text));
}
