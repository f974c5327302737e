using System.Diagnostics;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Stability;
using Sweeper.Core.Telemetry;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// Runs the stability monitor on the trial's own thread, step by step: every first verdict of a kind becomes an event
/// on the attempt's span, and the first verdict the policy acts on cancels the epoch (within the step it was found).
/// </summary>
internal sealed class StepSupervision
{
    private readonly StabilityMonitor _monitor;
    private readonly IReadOnlySet<string> _actOn;
    private readonly Activity? _span;
    private readonly CancellationTokenSource _stop;
    private readonly HashSet<StabilityKind> _seen = new();

    private StepSupervision(StabilityMonitor monitor, IReadOnlySet<string> actOn, Activity? span, CancellationTokenSource stop)
    {
        _monitor = monitor;
        _actOn = actOn;
        _span = span;
        _stop = stop;
    }

    /// <summary>The verdict that ended the attempt, if one did.</summary>
    public StabilityVerdict? Verdict { get; private set; }

    public long LastStep { get; private set; } = -1;

    /// <summary>Starts supervising when the run has a monitor and the trainable reports its steps; null otherwise.</summary>
    public static StepSupervision? Attach(ITrainable trainable, WorkerCommands.AssignTrial run, Activity? span, CancellationTokenSource stop)
    {
        if (run.Monitor is null || trainable is not IReportsSteps steps) return null;
        var supervision = new StepSupervision(new StabilityMonitor(run.Monitor), (run.ActOn ?? []).ToHashSet(StringComparer.Ordinal), span, stop);
        steps.ObserveSteps(supervision.Observe);
        return supervision;
    }

    /// <summary>True when the monitor has been healthy (and past its warm-up) since <paramref name="step"/>.</summary>
    public bool HealthySince(long step) => !_monitor.IsWarmingUp && _monitor.IsHealthySince(Math.Max(1, step));

    private void Observe(StepObservation observation)
    {
        LastStep = observation.Step;
        var verdict = _monitor.Observe(observation);
        if (verdict.IsHealthy || Verdict is not null) return;
        var kind = StabilityParsing.Word(verdict.Kind);
        if (_seen.Add(verdict.Kind))
            _span?.AddEvent(new ActivityEvent(SweeperTelemetry.Events.StabilityVerdict, tags: new ActivityTagsCollection
            {
                ["sweeper.stability.verdict"] = kind,
                [SweeperTelemetry.Tags.Reason] = verdict.Reason,
                ["sweeper.stability.step"] = verdict.Step,
                ["sweeper.stability.signal"] = verdict.Evidence?.Signal.ToString(),
                [SweeperTelemetry.Tags.Layer] = verdict.Evidence?.Layer,
            }));
        if (_actOn.Contains(kind))
        {
            Verdict = verdict;
            _stop.Cancel();
        }
    }
}
