using System.Diagnostics;
using Sweeper.Core.Model;
using Sweeper.Core.Telemetry;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Actors;

/// <summary>What one finished epoch puts on its span and into the metrics.</summary>
internal static class EpochTelemetry
{
    public static void Record(Activity? span, TrialId trial, EpochResult result)
    {
        if (span is null && !AnyMetricListened()) return; // nothing listens: no tags to build (orchestration's hot path)
        var trialTag = new KeyValuePair<string, object?>(SweeperTelemetry.Tags.TrialId, trial.ToString());
        SweeperTelemetry.EpochDuration.Record(result.Duration.TotalSeconds, trialTag);
        Measure(SweeperTelemetry.SamplesPerSecond, result.Get(MetricNames.SamplesPerSecond), trialTag);
        Measure(SweeperTelemetry.Loss, result.Get(MetricNames.TestLoss), trialTag);
        Measure(SweeperTelemetry.Accuracy, result.Get(MetricNames.TestAccuracy), trialTag);
        foreach (var (key, value) in result.Metrics)
            if (MetricNames.QuantLayer.LayerOf(key, MetricNames.QuantLayer.ExponentMean) is { } layer && double.IsFinite(value))
                SweeperTelemetry.Exponent.Record(value, trialTag, new(SweeperTelemetry.Tags.Layer, layer));
        if (span is null) return;

        // Every metric but the per-layer quantizer ones (hundreds on a MobileNet: they stay in results.json); the network's
        // quantizer diagnostics (quant.flips_epoch, quant.clipped_fraction, quant.outlier_msqe_share, ...) are kept.
        foreach (var (key, value) in result.Metrics)
            if (double.IsFinite(value) && (!MetricNames.Quant.IsQuant(key) || !key.AsSpan(MetricNames.Quant.Prefix.Length).Contains('.')))
                span.SetTag(SweeperTelemetry.Tags.MetricPrefix + key, value);

        // train and eval as children with their measured share of the epoch, when the trainable reports it.
        var train = result.Get(MetricNames.TrainSeconds);
        var eval = result.Get(MetricNames.EvalSeconds);
        if (double.IsFinite(train) && double.IsFinite(eval))
        {
            var start = span.StartTimeUtc;
            Child(span, SweeperTelemetry.Spans.Train, start, TimeSpan.FromSeconds(train));
            Child(span, SweeperTelemetry.Spans.Eval, start.AddSeconds(train), TimeSpan.FromSeconds(eval));
        }

        // Exponent flips, aggregated per epoch: one event with the total and the layers that flipped.
        var flips = result.Get(MetricNames.Quant.FlipsEpoch);
        if (double.IsFinite(flips) && flips > 0)
        {
            var tags = new ActivityTagsCollection { ["sweeper.quant.flips"] = (long)flips };
            foreach (var (key, value) in result.Metrics)
                if (MetricNames.QuantLayer.LayerOf(key, MetricNames.QuantLayer.FlipsEpoch) is { } layer && value > 0)
                    tags["sweeper.quant.flips." + layer] = (long)value;
            span.AddEvent(new ActivityEvent(SweeperTelemetry.Events.Flips, tags: tags));
        }
    }

    private static bool AnyMetricListened() =>
        SweeperTelemetry.EpochDuration.Enabled || SweeperTelemetry.SamplesPerSecond.Enabled || SweeperTelemetry.Loss.Enabled
        || SweeperTelemetry.Accuracy.Enabled || SweeperTelemetry.Exponent.Enabled;

    private static void Child(Activity parent, string name, DateTime start, TimeSpan duration)
    {
        var child = SweeperTelemetry.StartDetached(name, parent.Context, startTime: new DateTimeOffset(start, TimeSpan.Zero));
        if (child is null) return;
        child.SetEndTime(start + duration);
        child.Dispose();
    }

    private static void Measure(System.Diagnostics.Metrics.Histogram<double> histogram, double value, KeyValuePair<string, object?> tag)
    {
        if (double.IsFinite(value)) histogram.Record(value, tag);
    }
}
