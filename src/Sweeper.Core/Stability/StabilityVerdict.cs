using Sweeper.Core.Model;

namespace Sweeper.Core.Stability;

/// <summary>Which test produced a non-healthy verdict.</summary>
public enum StabilitySignal
{
    None,
    /// <summary><see cref="StabilityKind.Diverged"/>: the loss is NaN, +∞ or −∞ (judged during warm-up too).</summary>
    NonFiniteLoss,
    /// <summary><see cref="StabilityKind.Diverged"/>: the gradient norm is NaN or +∞ (judged during warm-up too).</summary>
    NonFiniteGradNorm,
    /// <summary><see cref="StabilityKind.Diverged"/>: loss &gt; loss_spike_factor × running median.</summary>
    LossSpike,
    /// <summary><see cref="StabilityKind.Diverged"/>: gradient norm &gt; grad_norm_factor × running median.</summary>
    GradNormBlowUp,
    /// <summary><see cref="StabilityKind.Drifting"/>: an exponent below min_exponent or above max_exponent.</summary>
    ExponentOutOfBounds,
    /// <summary><see cref="StabilityKind.Drifting"/>: an exponent moved by ≥ drift_min_change over drift_window, never turning back.</summary>
    ExponentSteadyDrift,
    /// <summary><see cref="StabilityKind.Oscillating"/>: a channel's exponent changed in more than max_flip_rate of the flip window's steps.</summary>
    ExponentFlipRate,
}

/// <summary>
/// Why a step was judged unhealthy: the numbers a person (or a trace viewer) needs to check the verdict.
/// </summary>
/// <param name="Signal">The test that fired.</param>
/// <param name="Step">The step judged.</param>
/// <param name="Layer">The layer, for exponent signals.</param>
/// <param name="Channel">The channel (0-based) within <paramref name="Layer"/>, for exponent signals.</param>
/// <param name="Window">Steps the test looked back over: the flip, drift or spike window; 0 for point tests (NaN, bounds).</param>
/// <param name="Value">
/// The measured value: the loss, the gradient norm, the flip rate, the exponent (bounds), or the net exponent
/// change over the window (steady drift).
/// </param>
/// <param name="Threshold">
/// The limit <paramref name="Value"/> crossed: factor × median for spikes, max_flip_rate, the bound crossed,
/// or ±drift_min_change; NaN for non-finite values (nothing to compare with).
/// </param>
/// <param name="Baseline">The running median (spikes) or the exponent at the start of the window (drift); NaN otherwise.</param>
/// <param name="RecentExponents">The channel's latest exponents, oldest first (up to 16; exponent signals only).</param>
/// <param name="Reason">One line for people: what was seen, against what.</param>
public sealed record StabilityEvidence(
    StabilitySignal Signal,
    long Step,
    string? Layer,
    int? Channel,
    int Window,
    double Value,
    double Threshold,
    double Baseline,
    IReadOnlyList<int> RecentExponents,
    string Reason)
{
    public override string ToString() => Reason;
}

/// <summary>
/// The monitor's judgement of one step: <see cref="Kind"/> and, unless healthy, its <see cref="Evidence"/>.
/// A struct so that healthy steps cost no allocation.
/// </summary>
public readonly record struct StabilityVerdict(StabilityKind Kind, long Step, StabilityEvidence? Evidence)
{
    public bool IsHealthy => Kind == StabilityKind.Healthy;

    /// <summary>True for a healthy verdict given during warm-up, when only NaN/∞ were judged.</summary>
    public bool WarmingUp { get; init; }

    public static StabilityVerdict Healthy(long step, bool warmingUp = false) => new(StabilityKind.Healthy, step, null) { WarmingUp = warmingUp };

    public static StabilityVerdict Unhealthy(StabilityKind kind, StabilityEvidence evidence)
    {
        if (kind == StabilityKind.Healthy) throw new ArgumentException("an unhealthy verdict needs a non-healthy kind", nameof(kind));
        ArgumentNullException.ThrowIfNull(evidence);
        return new(kind, evidence.Step, evidence);
    }

    /// <summary>The one-line reason: <c>healthy</c> or the evidence's reason.</summary>
    public string Reason => Evidence?.Reason ?? (WarmingUp ? "healthy (warming up: only NaN/∞ judged)" : "healthy");

    public override string ToString() => $"{Kind} at step {Step}: {Reason}";
}
