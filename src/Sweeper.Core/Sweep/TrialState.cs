namespace Sweeper.Core.Sweep;

public enum TrialState { Pending, Running, Completed, Failed, Stopped }

/// <summary>The allowed state changes of a trial. Only the coordinator applies them.</summary>
public static class TrialStateMachine
{
    public static bool IsTerminal(this TrialState state) => state is TrialState.Completed or TrialState.Failed or TrialState.Stopped;

    public static bool CanMove(TrialState from, TrialState to) => (from, to) switch
    {
        (TrialState.Pending, TrialState.Running) => true,
        (TrialState.Pending, TrialState.Stopped) => true,   // the sweep ended before it ran
        (TrialState.Running, TrialState.Completed) => true,
        (TrialState.Running, TrialState.Failed) => true,
        (TrialState.Running, TrialState.Stopped) => true,
        (TrialState.Running, TrialState.Pending) => true,   // its worker went away: queued again
        (TrialState.Failed, TrialState.Pending) => true,    // run again as a new attempt (sweeper resume --rerun-failed)
        (TrialState.Stopped, TrialState.Pending) => true,   // stopped by stability supervision: run again likewise
        _ => false,
    };
}
