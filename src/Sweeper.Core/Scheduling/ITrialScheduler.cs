using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Core.Scheduling;

/// <summary>What a scheduler tells the coordinator to do with a trial after a result.</summary>
public enum SchedulerAction { Continue, Stop }

/// <summary>
/// A scheduler's decision: <see cref="Action"/>, a human-readable <see cref="Reason"/> (for the
/// journal, logs and trace events), and where relevant the rung (0-based) and its milestone.
/// </summary>
public readonly record struct SchedulerDecision(SchedulerAction Action, string Reason, int? Rung = null, long? Milestone = null)
{
    public bool IsStop => Action == SchedulerAction.Stop;

    public static SchedulerDecision Continue(string reason, int? rung = null, long? milestone = null) =>
        new(SchedulerAction.Continue, reason, rung, milestone);

    public static SchedulerDecision Stop(string reason, int? rung = null, long? milestone = null) =>
        new(SchedulerAction.Stop, reason, rung, milestone);

    public override string ToString() =>
        Rung is { } r ? $"{Action} at rung {r} (t={Milestone}): {Reason}" : $"{Action}: {Reason}";
}

/// <summary>
/// Decides, result by result, whether a trial keeps training. Pure: no actors, no clocks; the
/// decisions are a function of the sequence of <see cref="OnResult"/> calls, so a restarted
/// coordinator rebuilds a scheduler by replaying the journaled results in order.
/// Not thread-safe: one caller (the coordinator) makes every call.
/// </summary>
/// <remarks>
/// NaN and ±∞ values never throw and never promote a trial. <paramref name="iteration"/> in
/// <see cref="OnResult"/> is the trial's progress counter (1-based epoch or step, as configured).
/// A result for an iteration not after the trial's last one is a restart from a checkpoint.
/// </remarks>
public interface ITrialScheduler
{
    /// <summary>The spec name: <c>fifo</c>, <c>asha</c> or <c>median_stopping</c>.</summary>
    string Name { get; }

    /// <summary>Judges <paramref name="trial"/>'s objective <paramref name="value"/> at <paramref name="iteration"/>.</summary>
    SchedulerDecision OnResult(TrialId trial, int iteration, double value);
}

/// <summary>Orients objective values so that higher is always better.</summary>
internal static class Orientation
{

    public static string Format(double value) => value.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
}
