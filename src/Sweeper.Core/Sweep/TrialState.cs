namespace Sweeper.Core.Sweep;

public enum TrialState { Pending, Running, Completed, Failed, Stopped }

/// <summary>The allowed state changes of a trial. Only the coordinator applies them.</summary>
public static class TrialStateMachine
{
    public static bool IsTerminal(this TrialState state) => state is TrialState.Completed or TrialState.Failed or TrialState.Stopped;

    /// <param name="interrupted">The trial was stopped because the sweep was interrupted (<see cref="TrialRecord.Interrupted"/>): only such a stopped trial may be queued again.</param>
    /// <param name="rerun">The trial is run again from scratch as a new attempt (<c>sweeper resume --rerun-failed</c>, see <see cref="ResumePlan"/>).</param>
    public static bool CanMove(TrialState from, TrialState to, bool interrupted = false, bool rerun = false) => (from, to) switch
    {
        (TrialState.Pending, TrialState.Running) => true,
        (TrialState.Pending, TrialState.Stopped) => true,   // the sweep ended before it ran
        (TrialState.Running, TrialState.Completed) => true,
        (TrialState.Running, TrialState.Failed) => true,
        (TrialState.Running, TrialState.Stopped) => true,
        (TrialState.Running, TrialState.Pending) => true,   // its worker went away: queued again
        (TrialState.Failed, TrialState.Pending) => rerun,   // run again as a new attempt (sweeper resume --rerun-failed)
        (TrialState.Stopped, TrialState.Pending) => interrupted || rerun, // the interrupted sweep is resumed, or stopped by stability and rerun
        _ => false,
    };
}
