namespace Sweeper.Core.Model;

/// <summary>The monitor's judgement of one step. The policy has one rule per non-healthy kind.</summary>
public enum StabilityKind
{
    Healthy,
    /// <summary>A layer's exponent flips back and forth faster than the monitor's <c>max_flip_rate</c>.</summary>
    Oscillating,
    /// <summary>An exponent is out of bounds, or moved steadily one way by at least <c>drift_min_change</c>.</summary>
    Drifting,
    /// <summary>The loss is NaN/±∞ or spiked, or the gradient norm is NaN/∞ or blew up.</summary>
    Diverged,
}

/// <summary>The words of <see cref="StabilityKind"/> in specs, journals, traces and reports.</summary>
public static class StabilityKinds
{
    /// <summary>The kinds a policy has a rule for, in spec order.</summary>
    public static IReadOnlyList<StabilityKind> Unhealthy { get; } = [StabilityKind.Oscillating, StabilityKind.Drifting, StabilityKind.Diverged];

    public static string Word(this StabilityKind kind) => kind switch
    {
        StabilityKind.Healthy => "healthy",
        StabilityKind.Oscillating => "oscillating",
        StabilityKind.Drifting => "drifting",
        StabilityKind.Diverged => "diverged",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static bool TryParse(string? word, out StabilityKind kind)
    {
        foreach (var k in (ReadOnlySpan<StabilityKind>)[StabilityKind.Healthy, StabilityKind.Oscillating, StabilityKind.Drifting, StabilityKind.Diverged])
            if (string.Equals(k.Word(), word, StringComparison.OrdinalIgnoreCase))
            {
                kind = k;
                return true;
            }
        kind = StabilityKind.Healthy;
        return false;
    }

    public static StabilityKind Parse(string word) =>
        TryParse(word, out var kind) ? kind : throw new FormatException($"'{word}' is not a stability verdict (healthy, oscillating, drifting, diverged)");
}
