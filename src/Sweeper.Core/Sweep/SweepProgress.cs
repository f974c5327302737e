namespace Sweeper.Core.Sweep;

/// <summary>
/// How far a sweep has come, from its trials as recorded (a journal read by <c>sweeper status</c>): trials by state
/// against the planned total, the best completed trial, the running trials, restarts and crashes, and an estimate of
/// the time left. Pure: the trials, the total and the concurrency are given.
/// </summary>
/// <param name="Result">The trials so far (name, objective, start; best and ranking come from <see cref="SweepResult"/>).</param>
/// <param name="Total">How many trials the spec plans in all, when known.</param>
public sealed record SweepProgress(SweepResult Result, long? Total)
{
    /// <summary>Every state with its number of trials (zero included), in the state order.</summary>
    public IReadOnlyList<KeyValuePair<TrialState, int>> ByState { get; } =
        Enum.GetValues<TrialState>().Select(s => new KeyValuePair<TrialState, int>(s, Result.Trials.Count(t => t.State == s))).ToList();

    /// <summary>Trials that reached a final state (completed, failed or stopped).</summary>
    public int Finished => Result.Trials.Count(t => t.State.IsTerminal());

    /// <summary>The trials running now, in trial order.</summary>
    public IReadOnlyList<TrialRecord> Running => Result.Trials.Where(t => t.State == TrialState.Running).OrderBy(t => t.Id.Index).ToList();

    /// <summary>The best completed trial on the objective, if any completed with a value.</summary>
    public TrialRecord? Best => Result.Best;

    /// <summary>Restarts for instability over all trials.</summary>
    public int Restarts => Result.Trials.Sum(t => t.Restarts);

    /// <summary>Crashes of the trainable (Akka supervision restarted the trial) over all trials.</summary>
    public int Crashes => Result.Trials.Sum(t => t.Crashes.Count);

    /// <summary>Times a trial was queued again (its worker went away, the coordinator restarted) over all trials.</summary>
    public int Resumes => Result.Trials.Sum(t => t.Resumes.Count);

    /// <summary>
    /// The time the sweep still needs, estimated from the epochs it recorded: the epochs each unfinished trial has still
    /// to run (running trials first, then queued ones, then the trials not created yet, each taken to plan the mean
    /// epochs of those created) are laid out over <paramref name="concurrency"/> slots, each trial on the slot that frees
    /// first, and the last slot's end is multiplied by the mean duration of a recorded epoch. Null when it cannot be
    /// estimated: the total is unknown, or no epoch has finished yet. A scheduler that stops trials early makes it an
    /// upper bound.
    /// </summary>
    /// <param name="concurrency">How many trials run at once (at least 1 is assumed).</param>
    public TimeSpan? Eta(int concurrency)
    {
        var trials = Result.Trials;
        if (Total is not { } total) return null;
        var durations = trials.SelectMany(t => t.Epochs).Select(e => e.Duration.TotalSeconds).ToList();
        if (durations.Count == 0) return null;
        double epochsPerTrial = trials.Average(t => (double)t.Config.Trainable.Epochs);
        var queued = trials.Where(t => !t.State.IsTerminal())
            .OrderBy(t => t.State == TrialState.Running ? 0 : 1).ThenBy(t => t.Id.Index)
            .Select(t => (double)Math.Max(0, t.Config.Trainable.Epochs - t.Epochs.Count)).ToList();
        long notCreated = Math.Max(0, total - trials.Count);
        int slots = Math.Max(1, concurrency);
        var free = new PriorityQueue<double, double>();
        for (int i = 0; i < slots; i++) free.Enqueue(0, 0);
        foreach (var epochs in queued)
        {
            var at = free.Dequeue() + epochs;
            free.Enqueue(at, at);
        }
        // Trials not created yet are alike: whole rounds over every slot, then the rest one by one.
        double end = 0;
        var ends = new List<double>();
        while (free.TryDequeue(out var at, out _)) ends.Add(at);
        ends.Sort();
        long rounds = notCreated / slots, rest = notCreated % slots;
        for (int i = 0; i < ends.Count; i++)
        {
            ends[i] += rounds * epochsPerTrial + (i < rest ? epochsPerTrial : 0);
            end = Math.Max(end, ends[i]);
        }
        return TimeSpan.FromSeconds(end * durations.Average());
    }
}
