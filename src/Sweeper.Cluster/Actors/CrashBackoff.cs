namespace Sweeper.Cluster.Actors;

/// <summary>
/// The delay before a crashed trial's run is started again (<c>crashes.backoff_seconds</c>): the first backoff, doubled
/// per restart, at most 8× the first, stretched by up to 20 % at random so that runs that crashed together do not all
/// start again at the same instant — the schedule Akka's <c>Backoff.OnFailure(child, name, first, 8 × first, 0.2)</c>
/// gave, which this replaces.
/// </summary>
public static class CrashBackoff
{
    /// <summary>The longest delay, as a multiple of the first.</summary>
    public const double MaxFactor = 8;

    /// <summary>The random stretch: a delay is multiplied by 1 + this × a number in [0, 1).</summary>
    public const double RandomFactor = 0.2;

    /// <param name="restart">Restarts so far of this run (0 for the first restart).</param>
    /// <param name="first">The first backoff.</param>
    /// <param name="random">A number in [0, 1).</param>
    public static TimeSpan Delay(int restart, TimeSpan first, double random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(restart);
        double factor = restart >= 30 ? MaxFactor : Math.Min(MaxFactor, Math.Pow(2, restart));
        return first * factor * (1 + RandomFactor * random);
    }
}
