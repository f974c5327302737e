using System.Globalization;

namespace Sweeper.Core.Model;

/// <summary>How durations read in specs, messages and docs.</summary>
public static class DurationText
{
    /// <summary><c>0s</c>, <c>500ms</c>, <c>30s</c>, <c>1.5s</c>, <c>5m</c>, <c>24h</c>: the shortest exact form.</summary>
    public static string Format(TimeSpan d)
    {
        if (d == TimeSpan.Zero) return "0s";
        if (d.Ticks % TimeSpan.TicksPerHour == 0) return Number(d.TotalHours) + "h";
        if (d.Ticks % TimeSpan.TicksPerMinute == 0) return Number(d.TotalMinutes) + "m";
        if (d.Ticks % TimeSpan.TicksPerSecond == 0 || d >= TimeSpan.FromSeconds(1) || d <= TimeSpan.FromSeconds(-1)) return Number(d.TotalSeconds) + "s";
        return Number(d.TotalMilliseconds) + "ms";
    }

    /// <summary>Up to three decimals, invariant culture.</summary>
    public static string Number(double x) => x.ToString("0.###", CultureInfo.InvariantCulture);
}
