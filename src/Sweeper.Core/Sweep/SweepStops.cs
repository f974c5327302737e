using Sweeper.Core.Spec;

namespace Sweeper.Core.Sweep;

/// <summary>The spec's sweep-level stop rules (<c>stop:</c>): when a finished trial or the clock ends the whole sweep.</summary>
public static class SweepStops
{
    /// <summary>Why <paramref name="trial"/>, just completed, ends the sweep (its objective reached <c>stop.target</c>), or null.</summary>
    public static string? TargetReached(SweepSpec spec, TrialRecord trial)
    {
        if (trial.State != TrialState.Completed || spec.Stop.Target is not { } target) return null;
        return spec.Objective.Reached(trial.Objective(spec.Objective), target) ? TargetPrefix(spec, target) + trial.Id : null;
    }

    /// <summary>Whether a sweep's stop reason is <see cref="TargetReached"/>'s (its target was reached).</summary>
    public static bool IsTargetReached(SweepSpec spec, string? reason) =>
        spec.Stop.Target is { } target && reason is not null && reason.StartsWith(TargetPrefix(spec, target), StringComparison.Ordinal);

    /// <summary>Whether a sweep's stop reason is <see cref="BudgetUsedUp"/>'s.</summary>
    public static bool IsBudgetUsedUp(SweepSpec spec, string? reason) => spec.Stop.MaxMinutes is not null && reason == BudgetUsedUp(spec);

    private static string TargetPrefix(SweepSpec spec, double target) =>
        $"target {spec.Objective.Metric} {spec.Objective.ReachedSymbol} {target} reached by ";

    /// <summary>How long the sweep may still run at <paramref name="now"/> under <c>stop.max_minutes</c> (null: no budget).</summary>
    public static TimeSpan? BudgetLeft(SweepSpec spec, DateTimeOffset startedAt, DateTimeOffset now) =>
        spec.Stop.MaxMinutes is { } minutes ? startedAt.AddMinutes(minutes) - now : null;

    public static string BudgetUsedUp(SweepSpec spec) => $"time budget of {spec.Stop.MaxMinutes} min used up";
}
