using System.Diagnostics;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Stability;
using Sweeper.Core.Sweep;
using Sweeper.Core.Telemetry;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// The sweep's trace and trial-count metrics, kept by watching what <see cref="SweepState"/> decides: one root span per
/// sweep (a resumed sweep: a <c>sweep.resume</c> span under the journaled root, so the sweep stays one trace), a span
/// per trial from its first assignment to its end, and the decisions as span events.
/// </summary>
internal sealed class SweepTracing(SweepSpec spec) : IDisposable
{
    private readonly Dictionary<TrialId, Activity> _trialSpans = new();
    private readonly KeyValuePair<string, object?> _sweepTag = new(SweeperTelemetry.Tags.SweepName, spec.Name);
    private Activity? _sweepSpan;

    /// <summary>Starts the sweep's span; returns its trace context when a new sweep's root was started (to journal), else null.</summary>
    public string? Start(string? resumedFrom)
    {
        var tags = new Dictionary<string, object?>
        {
            [SweeperTelemetry.Tags.SweepName] = spec.Name,
            [SweeperTelemetry.Tags.SearchAlgorithm] = spec.Search.Algorithm,
            [SweeperTelemetry.Tags.Scheduler] = spec.Scheduler.Name,
            [SweeperTelemetry.Tags.Objective] = spec.Objective.Metric,
        };
        _sweepSpan = resumedFrom is null
            ? SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.Sweep, default, ActivityKind.Internal, tags)
            : SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.SweepResume, SweeperTelemetry.Parse(resumedFrom), ActivityKind.Internal, tags);
        return resumedFrom is null ? _sweepSpan?.Id : null;
    }

    /// <summary>The W3C trace context an assignment of <paramref name="trial"/> carries (its span, started on first use).</summary>
    public string? TraceParentOf(TrialRecord trial) => SweeperTelemetry.TraceParent(TrialSpan(trial));

    public void Observe(SweepEffect effect, SweepState state)
    {
        switch (effect)
        {
            case SweepEffect.TrialCreated:
                SweeperTelemetry.TrialsByState.Add(1, _sweepTag, new(SweeperTelemetry.Tags.TrialState, "pending"));
                break;
            case SweepEffect.TrialChanged { StateChanged: true } c:
                SweeperTelemetry.TrialsByState.Add(-1, _sweepTag, new(SweeperTelemetry.Tags.TrialState, StateWord(c.Before.State)));
                SweeperTelemetry.TrialsByState.Add(1, _sweepTag, new(SweeperTelemetry.Tags.TrialState, StateWord(c.After.State)));
                if (c.After.State.IsTerminal()) EndTrialSpan(c.After);
                break;
            case SweepEffect.SchedulerDecided d:
                Event(state[d.Id], SweeperTelemetry.Events.SchedulerDecision, new()
                {
                    [SweeperTelemetry.Tags.Action] = d.Decision.IsStop ? "stop" : "continue",
                    [SweeperTelemetry.Tags.Reason] = d.Decision.Reason,
                    [SweeperTelemetry.Tags.Rung] = (long?)d.Decision.Rung,
                    [SweeperTelemetry.Tags.Epoch] = (long)d.Epoch,
                    [SweeperTelemetry.Tags.Scheduler] = d.Scheduler,
                });
                break;
            case SweepEffect.StabilityJudged j:
                Event(state[j.Id], SweeperTelemetry.Events.StabilityVerdict, new()
                {
                    ["sweeper.stability.verdict"] = j.Verdict.Word(), [SweeperTelemetry.Tags.Reason] = j.Action.Reason,
                    ["sweeper.stability.step"] = j.Step, [SweeperTelemetry.Tags.Action] = StabilityParsing.Word(j.Action.Action),
                });
                break;
            case SweepEffect.Restarted r:
                SweeperTelemetry.Restarts.Add(1, new KeyValuePair<string, object?>("sweeper.stability.verdict", r.Verdict.Word()));
                Event(state[r.Id], SweeperTelemetry.Events.Restart, new()
                {
                    [SweeperTelemetry.Tags.Attempt] = (long)r.Attempt.Number, [SweeperTelemetry.Tags.ResumedFromEpoch] = (long)r.Attempt.FromEpoch,
                    ["sweeper.restart.changes"] = string.Join(", ", r.Attempt.Changes.Select(c => $"{c.Key}={c.Value}")),
                });
                break;
            case SweepEffect.QueuedAgain q:
                Event(state[q.Id], SweeperTelemetry.Events.QueuedAgain, new()
                {
                    [SweeperTelemetry.Tags.Reason] = q.Resume.Reason, [SweeperTelemetry.Tags.ResumedFromEpoch] = (long)q.Resume.FromEpoch,
                });
                SweeperTelemetry.Restarts.Add(1, new KeyValuePair<string, object?>(SweeperTelemetry.Tags.Reason, "worker gone"));
                break;
            case SweepEffect.Crashed c:
                Event(state[c.Id], "trial.crash", new() { [SweeperTelemetry.Tags.Reason] = c.Error, [SweeperTelemetry.Tags.Epoch] = (long)c.AfterEpoch });
                break;
            case SweepEffect.SweepStopping s:
                _sweepSpan?.AddEvent(new ActivityEvent(SweeperTelemetry.Events.SweepStopping, tags: new ActivityTagsCollection { [SweeperTelemetry.Tags.Reason] = s.Reason }));
                break;
            case SweepEffect.SweepCompleted done:
                if (done.Result.Best is { } best) _sweepSpan?.SetTag("sweeper.best.trial", best.Id.ToString());
                _sweepSpan?.SetTag("sweeper.trials", (long)done.Result.Trials.Count);
                _sweepSpan?.Dispose();
                _sweepSpan = null;
                break;
        }
    }

    public void Dispose()
    {
        foreach (var span in _trialSpans.Values) span.Dispose();
        _trialSpans.Clear();
        _sweepSpan?.Dispose();
    }

    private void Event(TrialRecord trial, string name, ActivityTagsCollection tags) => TrialSpan(trial)?.AddEvent(new ActivityEvent(name, tags: tags));

    private Activity? TrialSpan(TrialRecord trial)
    {
        if (_trialSpans.TryGetValue(trial.Id, out var span)) return span;
        var tags = new List<KeyValuePair<string, object?>> { new(SweeperTelemetry.Tags.TrialId, trial.Id.ToString()) };
        foreach (var (k, v) in trial.Config.Parameters) tags.Add(new(SweeperTelemetry.Tags.ParamPrefix + k, SweeperTelemetry.AttributeValue(v)));
        span = SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.Trial, _sweepSpan?.Context ?? default, ActivityKind.Internal, tags);
        if (span is null) return null;
        foreach (var r in trial.Resumes)
            span.AddEvent(new ActivityEvent(SweeperTelemetry.Events.Resumed, r.At, new ActivityTagsCollection
            {
                [SweeperTelemetry.Tags.ResumedFromEpoch] = (long)r.FromEpoch, [SweeperTelemetry.Tags.Reason] = r.Reason,
            }));
        _trialSpans[trial.Id] = span;
        return span;
    }

    private void EndTrialSpan(TrialRecord trial)
    {
        if (!_trialSpans.Remove(trial.Id, out var span)) return;
        span.SetTag(SweeperTelemetry.Tags.TrialState, StateWord(trial.State));
        span.SetTag(SweeperTelemetry.Tags.Node, trial.Worker);
        var objective = trial.Objective(spec.Objective);
        if (double.IsFinite(objective)) span.SetTag(SweeperTelemetry.Tags.TrialObjective, objective);
        if (trial.Last is { } last)
            foreach (var (k, v) in last.Metrics)
                if (double.IsFinite(v) && !MetricNames.Quant.IsQuant(k)) span.SetTag(SweeperTelemetry.Tags.MetricPrefix + k, v);
        if (trial.Reason is not null) span.SetTag(SweeperTelemetry.Tags.Reason, trial.Reason);
        if (trial.State == TrialState.Failed) span.SetStatus(ActivityStatusCode.Error, trial.Reason);
        span.Dispose();
    }

    private static string StateWord(TrialState state) => state.ToString().ToLowerInvariant();
}
