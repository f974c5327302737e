using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Sweep;

/// <summary>
/// A trial's attempts: the journal keeps each trial's original config; every restart for instability adds an attempt
/// whose changes (cumulative over restarts) apply on top of that original. The one place that turns the two into the
/// settings an attempt runs with.
/// </summary>
public static class TrialLineage
{
    /// <summary>
    /// <paramref name="original"/> with <paramref name="changes"/> applied (keys as in the spec, e.g. <c>trainable.optimizer.lr</c>).
    /// <paramref name="spec"/> supplies the named variants a change may select; without it only trainable keys apply.
    /// </summary>
    public static TrainableSpec Apply(TrainableSpec original, IEnumerable<KeyValuePair<string, object>> changes, SweepSpec? spec = null) =>
        SpecLoader.Apply((spec ?? Bare) with { Trainable = original }, changes).Trainable;

    /// <summary>The settings the last of <paramref name="attempts"/> runs with.</summary>
    public static TrainableSpec Current(TrainableSpec original, IReadOnlyList<TrialAttempt> attempts, SweepSpec? spec = null) =>
        attempts.Count < 2 || attempts[^1].Changes.Count == 0 ? original : Apply(original, attempts[^1].Changes, spec);

    private static readonly SweepSpec Bare = new()
    {
        Name = "", Objective = new ObjectiveSpec("", ObjectiveMode.Max), Trainable = new TrainableSpec { Dataset = new DatasetSpec() },
    };

    /// <summary>
    /// The attempts from the newest rerun on (all of them when the trial was never rerun): a rerun starts from scratch with
    /// the original config, so the restart policy's history (and the changes it declares) start again there.
    /// </summary>
    public static IEnumerable<TrialAttempt> SinceRerun(IReadOnlyList<TrialAttempt> attempts)
    {
        int from = 0;
        for (int i = attempts.Count - 1; i > 0 && from == 0; i--)
            if (attempts[i].Rerun) from = i;
        return attempts.Skip(from);
    }

    /// <summary>Exponent changes the epochs after <paramref name="fromEpoch"/> counted (<see cref="EpochFlips.Total"/>; 0 when none did).</summary>
    public static long FlipsAfter(IReadOnlyList<EpochResult> epochs, int fromEpoch) =>
        EpochFlips.Total(epochs, fromEpoch) is var total && double.IsFinite(total) ? (long)total : 0;

    /// <summary>The attempts with the last one ended after the trial's newest epoch (its epochs and flips complete the lineage).</summary>
    public static IReadOnlyList<TrialAttempt> EndLast(TrialRecord trial) =>
        trial.Attempts.Count == 0 ? trial.Attempts
            : [.. trial.Attempts.Take(trial.Attempts.Count - 1), trial.Attempts[^1] with { LastEpoch = trial.Last?.Epoch ?? 0, Flips = FlipsAfter(trial.Epochs, trial.Attempts[^1].FromEpoch) }];

    /// <summary>
    /// The number of the attempt that trained <paramref name="epoch"/>: the newest attempt that started before it (a
    /// restart from epoch k trains k+1 onwards again and replaces those epochs); null when the trial has no attempts.
    /// </summary>
    public static int? AttemptOf(TrialRecord trial, int epoch)
    {
        int? number = null;
        foreach (var a in trial.Attempts)
            if (a.FromEpoch < epoch && (number is null || a.Number > number)) number = a.Number;
        return number;
    }
}
