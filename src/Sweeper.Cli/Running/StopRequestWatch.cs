using Sweeper.Cluster.Journal;

namespace Sweeper.Cli.Running;

/// <summary>
/// Looks for a stop request (<see cref="StopRequest"/>, written by <c>sweeper stop</c>) in the run directory of the sweep
/// this process runs, every <see cref="Interval"/>, and hands what it takes to a callback, until disposed. Requests
/// written before this process took the run directory's lock are stale: taken and reported as ignored, never acted on.
/// </summary>
public sealed class StopRequestWatch : IAsyncDisposable
{
    /// <summary>How often the run directory is looked at (one file-exists test each time).</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private StopRequestWatch(RunDirectory run, Action<StopRequest.Found> onFound)
    {
        var since = RunDirectoryLock.TakenAtUtc(run) ?? DateTime.UtcNow;
        _loop = Task.Run(() => LoopAsync(run, since, onFound, _stop.Token));
    }

    /// <summary>Starts watching <paramref name="run"/> (whose lock this process holds); <paramref name="onFound"/> is called on a pool thread.</summary>
    public static StopRequestWatch Start(RunDirectory run, Action<StopRequest.Found> onFound) => new(run, onFound);

    private static async Task LoopAsync(RunDirectory run, DateTime since, Action<StopRequest.Found> onFound, CancellationToken cancel)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            StopRequest.Found? found = null;
            try { found = StopRequest.Take(run, since); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { } // looked at again at the next tick
            if (found is not null) onFound(found);
        }
        while (await timer.WaitForNextTickAsync(cancel).ConfigureAwait(false));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try { await _loop.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
