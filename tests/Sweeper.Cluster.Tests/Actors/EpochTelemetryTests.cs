using System.Diagnostics;
using Sweeper.Cluster.Actors;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Cluster.Tests.Actors;

public sealed class EpochTelemetryTests
{
    [Fact]
    public void Record_EpochSpan_NetworkQuantizerDiagnosticsAsAttributes_PerLayerOnesLeftToResults()
    {
        using var source = new ActivitySource("EpochTelemetryTests");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "EpochTelemetryTests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using var span = source.StartActivity("epoch")!;
        var metrics = new Dictionary<string, double>
        {
            [MetricNames.ValAccuracy] = 0.8,
            ["quant.clipped_fraction"] = 0.01,
            ["quant.outlier_msqe_share"] = 0.4,
            ["quant.flips_epoch"] = 12,
            ["quant.features.3.pw.msqe"] = 0.2,
            ["quant.stem.zero_fraction"] = 0.3,
        };

        EpochTelemetry.Record(span, new TrialId(1), new EpochResult(1, metrics, TimeSpan.FromSeconds(1)));

        var tags = span.TagObjects.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal(0.8, tags["sweeper.metric.val_accuracy"]);
        Assert.Equal(0.01, tags["sweeper.metric.quant.clipped_fraction"]);
        Assert.Equal(0.4, tags["sweeper.metric.quant.outlier_msqe_share"]);
        Assert.Equal(12.0, tags["sweeper.metric.quant.flips_epoch"]);
        Assert.DoesNotContain("sweeper.metric.quant.features.3.pw.msqe", tags.Keys);
        Assert.DoesNotContain("sweeper.metric.quant.stem.zero_fraction", tags.Keys);
    }
}
