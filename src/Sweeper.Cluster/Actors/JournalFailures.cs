namespace Sweeper.Cluster.Actors;

/// <summary>The coordinator's failed journal writes in a row, and what to do about the next one (<see cref="JournalRetry"/>).</summary>
internal sealed class JournalFailures(JournalRetry retry)
{
    /// <summary>Writes failed in a row; while above 0 only the scheduled retry writes.</summary>
    public int Count { get; private set; }

    public void Succeeded() => Count = 0;

    /// <summary>
    /// Counts a failed write of the journal at <paramref name="path"/>: the wait before the next try, or null when the
    /// tries are used up — then <paramref name="message"/> is the sweep's one-line failure.
    /// </summary>
    public TimeSpan? Failed(Exception ex, string? path, out string message)
    {
        var cause = $"{ex.GetType().Name}: {ex.Message}";
        if (++Count < retry.Attempts)
        {
            message = $"journal {path}: write {Count} of {retry.Attempts} failed ({cause}); trying again in {retry.DelayAfter(Count).TotalSeconds:0.#} s";
            return retry.DelayAfter(Count);
        }
        message = $"the journal {path} cannot be written ({Count} tries in {retry.Window.TotalSeconds:0.#} s): {cause}";
        return null;
    }
}
