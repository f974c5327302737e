using Sweeper.Cluster.Actors;

namespace Sweeper.Cluster.Tests.Actors;

public sealed class EpochTelemetryTests
{
    [Theory]
    [InlineData("quant.features.3.pw.flips_epoch", ".flips_epoch", "features.3.pw")]
    [InlineData("quant.flips_epoch", ".flips_epoch", null)] // the sweep-wide total, not a layer
    [InlineData("quant.x.exponent_mean", ".exponent_mean", "x")]
    [InlineData("test_accuracy", ".exponent_mean", null)]
    [InlineData("quant..flips_epoch", ".flips_epoch", null)]
    public void LayerOf_MetricKey_LayerOrNull(string key, string suffix, string? layer) =>
        Assert.Equal(layer, EpochTelemetry.LayerOf(key, suffix));
}
