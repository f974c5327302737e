using System.Diagnostics;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Stability;
using Sweeper.Core.Telemetry;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// Runs the stability monitor on the trial's own thread, step by step: every first verdict of a kind becomes an event
/// on the attempt's span, and the first verdict the policy acts on cancels the epoch (within the step it was found).
/// </summary>
internal sealed class StepSupervision
{
    private readonly StabilityMonitor _monitor;
    private readonly IReadOnlySet<StabilityKind> _actOn;
    private readonly Activity? _span;
    private readonly CancellationTokenSource _stop;
    private readonly HashSet<StabilityKind> _seen = new();

    private StepSupervision(StabilityMonitor monitor, IReadOnlySet<StabilityKind> actOn, Activity? span, CancellationTokenSource stop)
    {
        _monitor = monitor;
        _actOn = actOn;
        _span = span;
        _stop = stop;
    }

    /// <summary>The verdict that ended the attempt, if one did.</summary>
    public StabilityVerdict? Verdict { get; private set; }

    public long LastStep { get; private set; } = -1;

    /// <summary>Exponent changes seen over this attempt's steps (all layers and channels).</summary>
    public long Flips { get; private set; }

    private int[][]? _previous;

    /// <summary>Starts supervising when the run has a monitor and the trainable reports its steps; null otherwise.</summary>
    public static StepSupervision? Attach(ITrainable trainable, WorkerCommands.AssignTrial run, Activity? span, CancellationTokenSource stop)
    {
        if (run.Monitor is null || trainable is not IReportsSteps steps) return null;
        var supervision = new StepSupervision(new StabilityMonitor(run.Monitor), (run.ActOn ?? []).ToHashSet(), span, stop);
        steps.ObserveSteps(supervision.Observe);
        return supervision;
    }

    private void CountFlips(StepObservation observation)
    {
        var layers = observation.Layers;
        if (layers is null) return;
        if (_previous is null || _previous.Length != layers.Count)
        {
            _previous = new int[layers.Count][];
            for (int i = 0; i < layers.Count; i++) _previous[i] = (int[])layers[i].Exponents.Clone();
            return;
        }
        for (int i = 0; i < layers.Count; i++)
        {
            var now = layers[i].Exponents;
            var before = _previous[i];
            if (before.Length != now.Length) { _previous[i] = (int[])now.Clone(); continue; }
            for (int c = 0; c < now.Length; c++)
                if (now[c] != before[c]) { Flips++; before[c] = now[c]; }
        }
    }

    /// <summary>True when the monitor has been healthy (and past its warm-up) since <paramref name="step"/>.</summary>
    public bool HealthySince(long step) => !_monitor.IsWarmingUp && _monitor.IsHealthySince(Math.Max(1, step));

    private void Observe(StepObservation observation)
    {
        LastStep = observation.Step;
        CountFlips(observation);
        var verdict = _monitor.Observe(observation);
        if (verdict.IsHealthy || Verdict is not null) return;
        var kind = verdict.Kind.Word();
        if (_seen.Add(verdict.Kind))
            _span?.AddEvent(new ActivityEvent(SweeperTelemetry.Events.StabilityVerdict, tags: new ActivityTagsCollection
            {
                ["sweeper.stability.verdict"] = kind,
                [SweeperTelemetry.Tags.Reason] = verdict.Reason,
                ["sweeper.stability.step"] = verdict.Step,
                ["sweeper.stability.signal"] = verdict.Evidence?.Signal.ToString(),
                [SweeperTelemetry.Tags.Layer] = verdict.Evidence?.Layer,
            }));
        if (_actOn.Contains(verdict.Kind))
        {
            Verdict = verdict;
            _stop.Cancel();
        }
    }
}
