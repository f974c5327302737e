namespace Sweeper.Training.Trainables;

/// <summary>
/// The learning rate at each optimizer step. <c>cosine</c>: per-step cosine decay from the base rate to 0 over
/// <see cref="TotalSteps"/> steps, lr(t) = base × (1 + cos(π t / T)) / 2; <c>constant</c>: the base rate throughout.
/// </summary>
public sealed record LearningRateSchedule
{
    public const string Cosine = "cosine";
    public const string Constant = "constant";

    /// <summary>The schedule names this version knows.</summary>
    public static IReadOnlyList<string> Names { get; } = [Cosine, Constant];

    /// <exception cref="ArgumentException">Unknown schedule name, negative or non-finite base rate, or fewer than 1 step.</exception>
    public LearningRateSchedule(string kind, double baseLearningRate, long totalSteps)
    {
        if (!Names.Contains(kind))
            throw new ArgumentException($"Unknown learning-rate schedule '{kind}'. Valid names: {string.Join(", ", Names)}.", nameof(kind));
        if (!double.IsFinite(baseLearningRate) || baseLearningRate < 0)
            throw new ArgumentOutOfRangeException(nameof(baseLearningRate), baseLearningRate, "The learning rate must be a finite number ≥ 0.");
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        Kind = kind;
        BaseLearningRate = baseLearningRate;
        TotalSteps = totalSteps;
    }

    public string Kind { get; }
    public double BaseLearningRate { get; }
    public long TotalSteps { get; }

    /// <summary>The rate for 0-based step <paramref name="step"/>; steps past the end get the final rate.</summary>
    public double At(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (Kind == Constant) return BaseLearningRate;
        double progress = Math.Min(step, TotalSteps) / (double)TotalSteps;
        return BaseLearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
