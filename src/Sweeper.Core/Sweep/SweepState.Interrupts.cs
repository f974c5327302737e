using Sweeper.Core.Model;

namespace Sweeper.Core.Sweep;

/// <summary>
/// Interrupting a sweep (<c>sweeper stop</c>, Ctrl+C, SIGTERM) and continuing it (<c>sweeper resume</c>). The trials an
/// interruption stops are marked <see cref="TrialRecord.Interrupted"/>; a sweep started again from its journal queues
/// them again (<see cref="Continued"/>), where trials stopped by a decision about them (the scheduler, stability, the
/// sweep's target or time budget) stay stopped.
/// </summary>
public sealed partial class SweepState
{
    private bool _draining;           // stopping gracefully: nothing starts, running trials finish their current epoch
    private bool _stopReasonCleared;  // a resumed interruption: the journal's stop reason was dropped

    /// <summary>Whether the sweep is stopping gracefully: running trials finish their current epoch, nothing new starts.</summary>
    public bool Draining => _draining;

    /// <summary>
    /// Interrupts the sweep for <paramref name="reason"/>: nothing new starts, queued trials are stopped. Running trials
    /// are stopped at once (<paramref name="graceful"/> false: they continue from their newest checkpoint on resume), or
    /// asked to finish their current epoch, checkpoint it and stop (<see cref="SweepEffect.StopAfterEpoch"/>; each then
    /// reports <see cref="TrialPaused"/>, or completes if that was its last epoch). A graceful interruption may be
    /// followed by one at once; asking again for a graceful one changes nothing. Every trial stopped so is marked
    /// <see cref="TrialRecord.Interrupted"/>.
    /// </summary>
    public IReadOnlyList<SweepEffect> Interrupt(string reason, bool graceful)
    {
        if (Completed is not null) return [];
        if (!graceful)
        {
            StopSweep(reason, interrupted: true);
            return Drain();
        }
        if (_draining) return [];
        _draining = true;
        StopSweep(reason, interrupted: true, graceful: true);
        return Drain();
    }

    /// <summary>
    /// A trial asked to stop after its epoch (<see cref="SweepEffect.StopAfterEpoch"/>) has stopped, its epochs and
    /// checkpoint reported before: it is stopped as interrupted (resume continues it).
    /// </summary>
    public IReadOnlyList<SweepEffect> TrialPaused(TrialId id, int assignment)
    {
        if (!Current(id, assignment)) return [];
        foreach (var w in _workers.Values) w.Running.Remove(id);
        _unstarted.Remove(id);
        var reason = _stopReason ?? "stopped after its epoch";
        Change(id, t => t.MoveTo(TrialState.Stopped) with { FinishedAt = _clock(), Reason = reason, Interrupted = true });
        CompleteIfDone();
        return Drain();
    }

    /// <summary>Every pending trial (queued, or waiting out a restart's backoff) is stopped: nothing new starts.</summary>
    private void StopPending(string reason, bool interrupted)
    {
        _pending.Clear();
        foreach (var t in _trials.Values.Where(t => t.State == TrialState.Pending).OrderBy(t => t.Id.Index).ToList())
            Change(t.Id, r => r.MoveTo(TrialState.Stopped) with { Reason = reason, Interrupted = interrupted });
    }

    /// <summary>While the sweep stops gracefully nothing starts: a trial queued meanwhile (its worker left, a restart) is stopped as interrupted.</summary>
    private void HoldPending()
    {
        if (Completed is not null) return;
        StopPending(_stopReason ?? "the sweep is stopping", interrupted: true);
        CompleteIfDone();
    }

    /// <summary>
    /// A journaled trial an interruption stopped, as the sweep starts again: queued again, to continue from its newest
    /// checkpoint (its later epochs are dropped, the resume is recorded); one that never ran simply runs.
    /// </summary>
    private TrialRecord Continued(TrialRecord t)
    {
        if (!_stopReasonCleared)
        {
            _stopReasonCleared = true;
            Emit(new SweepEffect.StopReasonCleared());
        }
        TrialRecord trial;
        if (t.Assignment == 0) trial = t.MoveTo(TrialState.Pending);
        else
        {
            trial = Requeue(t, $"the sweep was resumed after it was interrupted ({t.Reason})");
            Emit(new SweepEffect.EpochsDropped(t.Id, trial.Checkpoint?.Epoch ?? 0));
        }
        trial = trial with { Interrupted = false, Reason = null, FinishedAt = null };
        Emit(new SweepEffect.TrialChanged(trial, trial));
        return trial;
    }
}
