using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;
using Sweeper.Core.Model;

namespace Sweeper.Core.Reporting;

/// <summary>One value per epoch; epochs without a finite value are left out.</summary>
public sealed record EpochSeries(IReadOnlyList<(int Epoch, double Value)> Points)
{
    public static EpochSeries Of(IEnumerable<EpochResult> epochs, string metric) =>
        new(epochs.Select(e => (e.Epoch, e.Get(metric))).Where(p => double.IsFinite(p.Item2)).ToList());

    public bool IsEmpty => Points.Count == 0;
}

/// <summary>One layer of a quantized trial: its mean exponent and its flips, epoch by epoch.</summary>
public sealed record LayerTrace(string Layer, EpochSeries ExponentMean, EpochSeries FlipsPerEpoch)
{
    public double TotalFlips => FlipsPerEpoch.Points.Sum(p => p.Value);
}

/// <summary>The quantizer diagnostics of one trial: each layer's trace and the network's flips per epoch.</summary>
public sealed record QuantTrace(TrialRecord Trial, IReadOnlyList<LayerTrace> Layers, EpochSeries FlipsPerEpoch)
{
    /// <summary>The trace of <paramref name="trial"/>, or null when it reports no <c>exponent_mean</c> of any layer.</summary>
    public static QuantTrace? From(TrialRecord trial)
    {
        // Layers in the order the trainable reports them (the model's order), not sorted as text.
        var layers = new List<string>();
        foreach (var e in trial.Epochs)
            foreach (var key in e.Metrics.Keys)
                if (MetricNames.QuantLayer.LayerOf(key, MetricNames.QuantLayer.ExponentMean) is { } layer && !layers.Contains(layer))
                    layers.Add(layer);
        if (layers.Count == 0) return null;
        var traces = layers.Select(l => new LayerTrace(l,
            EpochSeries.Of(trial.Epochs, MetricNames.Quant.Prefix + l + MetricNames.QuantLayer.ExponentMean),
            PerEpoch(trial.Epochs, MetricNames.Quant.Prefix + l + MetricNames.QuantLayer.FlipsEpoch, MetricNames.Quant.Prefix + l + MetricNames.QuantLayer.Flips))).ToList();
        return new QuantTrace(trial, traces, PerEpoch(trial.Epochs, MetricNames.Quant.FlipsEpoch, MetricNames.Quant.FlipsTotal));
    }

    /// <summary>Flips per epoch, counted as <see cref="EpochFlips.PerEpoch"/> does.</summary>
    public static EpochSeries PerEpoch(IReadOnlyList<EpochResult> epochs, string perEpochMetric, string runningMetric) =>
        new(EpochFlips.PerEpoch(epochs, perEpochMetric, runningMetric));
}
