using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;

namespace Sweeper.Core.Telemetry;

/// <summary>
/// The one ActivitySource and the one Meter of Sweeper, with span names, attribute names and instruments. Libraries
/// only create spans and record measurements here; the CLI configures the OpenTelemetry SDK and exporters.
/// </summary>
public static class SweeperTelemetry
{
    public const string Name = "Sweeper";
    public static readonly string Version = typeof(SweeperTelemetry).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public static readonly ActivitySource Source = new(Name, Version);
    public static readonly Meter Meter = new(Name, Version);

    /// <summary>Span names, parent to child: sweep → trial → attempt → epoch → train | eval | checkpoint.</summary>
    public static class Spans
    {
        public const string Sweep = "sweep";
        public const string SweepResume = "sweep.resume";
        public const string Trial = "trial";
        public const string Attempt = "attempt";
        public const string Epoch = "epoch";
        public const string Train = "train";
        public const string Eval = "eval";
        public const string Checkpoint = "checkpoint";
    }

    /// <summary>Span event names.</summary>
    public static class Events
    {
        public const string SchedulerDecision = "scheduler.decision";
        public const string StabilityVerdict = "stability.verdict";
        public const string Restart = "trial.restart";
        public const string Resumed = "trial.resumed";
        public const string QueuedAgain = "trial.queued_again";
        public const string Flips = "quant.flips";
        public const string SweepStopping = "sweep.stopping";
    }

    /// <summary>Attribute and tag names.</summary>
    public static class Tags
    {
        public const string SweepName = "sweeper.sweep.name";
        public const string SearchAlgorithm = "sweeper.search.algorithm";
        public const string Scheduler = "sweeper.scheduler.name";
        public const string Objective = "sweeper.objective.metric";
        public const string TrialId = "sweeper.trial.id";
        public const string TrialState = "sweeper.trial.state";
        public const string TrialObjective = "sweeper.trial.objective";
        public const string Attempt = "sweeper.trial.attempt";
        public const string ResumedFromEpoch = "sweeper.trial.resumed_from_epoch";
        public const string Epoch = "sweeper.epoch";
        public const string Node = "sweeper.worker.node";
        public const string Reason = "sweeper.reason";
        public const string Rung = "sweeper.scheduler.rung";
        public const string Action = "sweeper.action";
        public const string Layer = "sweeper.quant.layer";
        public const string ParamPrefix = "sweeper.param.";
        public const string MetricPrefix = "sweeper.metric.";
    }

    // Instruments (names in OpenTelemetry style, with units).
    public static readonly UpDownCounter<long> TrialsByState =
        Meter.CreateUpDownCounter<long>("sweeper.trials", "{trial}", "Trials by state (sweeper.trial.state).");
    public static readonly Histogram<double> EpochDuration =
        Meter.CreateHistogram<double>("sweeper.trial.epoch.duration", "s", "Wall time of one training epoch (train and eval).");
    public static readonly Histogram<double> SamplesPerSecond =
        Meter.CreateHistogram<double>("sweeper.trial.samples_per_second", "{sample}/s", "Training throughput of an epoch.");
    public static readonly Histogram<double> Loss =
        Meter.CreateHistogram<double>("sweeper.trial.loss", "1", "Test loss at the end of an epoch.");
    public static readonly Histogram<double> Accuracy =
        Meter.CreateHistogram<double>("sweeper.trial.accuracy", "1", "Test accuracy at the end of an epoch.");
    public static readonly Histogram<double> Exponent =
        Meter.CreateHistogram<double>("sweeper.quant.exponent", "1", "Mean power-of-two scale exponent of a quantized layer (sweeper.quant.layer) at the end of an epoch.");
    public static readonly Counter<long> Restarts =
        Meter.CreateCounter<long>("sweeper.trial.restarts", "{restart}", "Trials restarted (instability) or resumed elsewhere (worker gone).");

    /// <summary>Whether anything records Sweeper's spans now (build a span's tags only then).</summary>
    public static bool Recording => Source.HasListeners();

    /// <summary>
    /// Starts a span under an explicit parent without leaving it as <see cref="Activity.Current"/>: actors share
    /// threads, so a span must never leak into the next message's context.
    /// </summary>
    public static Activity? StartDetached(string name, ActivityContext parent, ActivityKind kind = ActivityKind.Internal,
        IEnumerable<KeyValuePair<string, object?>>? tags = null, DateTimeOffset startTime = default)
    {
        if (!Source.HasListeners()) return null; // nothing records spans: skip the sampling call and the Activity.Current swap
        var previous = Activity.Current;
        var activity = Source.StartActivity(name, kind, parent, tags, startTime: startTime);
        Activity.Current = previous;
        return activity;
    }

    /// <summary>A W3C traceparent of <paramref name="activity"/> (null when it is not recorded).</summary>
    public static string? TraceParent(Activity? activity) => activity?.Id;

    /// <summary>The context of a W3C traceparent, or default when there is none or it does not parse.</summary>
    public static ActivityContext Parse(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, out var context) ? context : default;

    /// <summary>Attribute value for a parameter (numbers stay numbers).</summary>
    public static object? AttributeValue(object? value) => value switch
    {
        null => null,
        string or bool or long or double => value,
        int i => (long)i,
        float f => (double)f,
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };
}
