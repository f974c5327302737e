using System.Globalization;

namespace Sweeper.Core.Stability;

/// <summary>
/// One problem in stability settings: the key path relative to the stability section (for example
/// <c>diverged.max_restarts</c> or <c>changes[1]</c>) and a message in the spec validator's wording.
/// The spec loader maps the key path to file:line:col.
/// </summary>
public sealed record StabilityConfigError(string KeyPath, string Message)
{
    public override string ToString() => KeyPath.Length == 0 ? Message : $"{KeyPath}: {Message}";
}

/// <summary>
/// Thresholds and windows of <see cref="StabilityMonitor"/>. Every window counts observations (training
/// steps fed to <see cref="StabilityMonitor.Observe"/>), not step indices. The defaults are judgement calls,
/// each explained on its property; <see cref="StabilityConstants"/> holds them as constants.
/// </summary>
public sealed record StabilityOptions
{
    /// <summary>
    /// <c>warmup_steps</c>: the first observations are only checked for NaN/±∞ loss and gradient norm.
    /// Default 200: the MSQE exponent is first chosen from the random initial weights and the weights move
    /// most in the first steps (and under any learning-rate warm-up); 200 is also at least the flip and spike
    /// windows, so those are full when judging starts.
    /// </summary>
    public int WarmupSteps { get; init; } = StabilityConstants.DefaultWarmupSteps;

    /// <summary>
    /// <c>flip_window</c>: the sliding window, in steps, over which a channel's exponent changes are counted.
    /// Default 100. The flip rate is judged only once a layer has been seen over a full window.
    /// </summary>
    public int FlipWindow { get; init; } = StabilityConstants.DefaultFlipWindow;

    /// <summary>
    /// <c>max_flip_rate</c>: a layer oscillates when one of its channels changed exponent in more than this
    /// fraction of the last <see cref="FlipWindow"/> steps (strictly more). Default 0.2: a settled channel changes
    /// exponent only when its weights cross a power of two, a few times per epoch; the oscillation of
    /// the MSQE method flips between neighbours nearly every step (rate 0.5–1).
    /// </summary>
    public double MaxFlipRate { get; init; } = StabilityConstants.DefaultMaxFlipRate;

    /// <summary>
    /// <c>min_exponent</c>: an exponent below this means the scale collapsed towards zero. Default −20: from
    /// 2^−21 down the quantizers' EPS = 1e−7 dominates <c>snap</c>, and an all-zero channel gets −23.
    /// </summary>
    public int MinExponent { get; init; } = StabilityConstants.DefaultMinExponent;

    /// <summary>
    /// <c>max_exponent</c>: an exponent above this means the scale ran away towards infinity. Default 8: a step
    /// of 256 puts the 4-bit grid at ±1792, far above any trained weight, batch-norm-folded ones included.
    /// </summary>
    public int MaxExponent { get; init; } = StabilityConstants.DefaultMaxExponent;

    /// <summary>
    /// <c>drift_window</c>: steady drift is judged over this many steps. Default 500 (about one epoch of
    /// CIFAR-10 at batch 100): long enough that the ordinary crossings of a slowly shrinking weight (weight
    /// decay over a whole run) do not add up to <see cref="DriftMinChange"/>.
    /// </summary>
    public int DriftWindow { get; init; } = StabilityConstants.DefaultDriftWindow;

    /// <summary>
    /// <c>drift_min_change</c>: a channel drifts when its exponent moved at least this much over the last
    /// <see cref="DriftWindow"/> steps with every change in the same direction. Default 2: a 4× change of scale
    /// within the window without ever turning back is a runaway scale, not noise (noise turns back).
    /// </summary>
    public int DriftMinChange { get; init; } = StabilityConstants.DefaultDriftMinChange;

    /// <summary>
    /// <c>spike_window</c>: the running medians of the loss and of the gradient norm are taken over the last
    /// this many finite values. Default 100: enough mini-batches that a median is stable, short enough to follow
    /// the falling loss. Spikes are judged only once the window is full.
    /// </summary>
    public int SpikeWindow { get; init; } = StabilityConstants.DefaultSpikeWindow;

    /// <summary>
    /// <c>loss_spike_factor</c>: the loss diverged when it is above this many times its running median
    /// (judged only while the median is positive). Default 10: a mini-batch's classification loss rarely
    /// exceeds 2–3× the recent median; a diverging network's loss grows by orders of magnitude.
    /// </summary>
    public double LossSpikeFactor { get; init; } = StabilityConstants.DefaultLossSpikeFactor;

    /// <summary>
    /// <c>grad_norm_factor</c>: the gradient norm blew up when it is above this many times its running median.
    /// Default 100: gradient norms are heavy-tailed (single batches reach 10–20× the median in healthy
    /// training, which is why clipping thresholds sit at a few times the typical norm).
    /// </summary>
    public double GradNormFactor { get; init; } = StabilityConstants.DefaultGradNormFactor;

    /// <summary>Every problem with these settings, with snake_case keys as in a spec; empty when valid.</summary>
    public IReadOnlyList<StabilityConfigError> Validate()
    {
        var errors = new List<StabilityConfigError>();
        void Check(bool ok, string key, string message)
        {
            if (!ok) errors.Add(new StabilityConfigError(key, message));
        }
        const int maxWindow = StabilityConstants.MaxWindow;
        Check(WarmupSteps >= 0, "warmup_steps", $"must not be negative, found {WarmupSteps}");
        Check(FlipWindow is >= 2 and <= maxWindow, "flip_window", $"must be between 2 and {maxWindow}, found {FlipWindow}");
        Check(MaxFlipRate is > 0 and < 1, "max_flip_rate", $"must be in (0, 1), found {F(MaxFlipRate)}");
        Check(MinExponent < MaxExponent, "min_exponent", $"must be less than max_exponent ({MaxExponent}), found {MinExponent}");
        Check(DriftWindow is >= 2 and <= maxWindow, "drift_window", $"must be between 2 and {maxWindow}, found {DriftWindow}");
        Check(DriftMinChange >= 1, "drift_min_change", $"must be at least 1, found {DriftMinChange}");
        Check(SpikeWindow is >= 2 and <= maxWindow, "spike_window", $"must be between 2 and {maxWindow}, found {SpikeWindow}");
        Check(LossSpikeFactor > 1 && double.IsFinite(LossSpikeFactor), "loss_spike_factor", $"must be a finite number greater than 1, found {F(LossSpikeFactor)}");
        Check(GradNormFactor > 1 && double.IsFinite(GradNormFactor), "grad_norm_factor", $"must be a finite number greater than 1, found {F(GradNormFactor)}");
        return errors;
    }

    internal static string F(double x) => x.ToString("G6", CultureInfo.InvariantCulture);
}
