namespace Sweeper.Core.Trials.Synthetic;

/// <summary>
/// The noise-free learning curve of a synthetic run, loosely shaped like MobileNet on Fashion-MNIST:
/// <c>accuracy(e) = 0.1 + (a_max − 0.1)·(1 − exp(−e/τ))</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Learning rate: its distance d in decades from the optimum (SGD: lr/(1 − momentum) = 0.5,
/// i.e. 0.05 at momentum 0.9; Adam: 1e-3) lowers the ceiling by a factor exp(−0.05·d²); too low
/// slows learning (τ = 1.2·10^(|d|/2)), too high a little (τ = 1.2·(1 + d/2)); more than 1.5
/// decades too high diverges: chance accuracy and NaN losses from epoch 2.</item>
/// <item>Width: ceiling 0.945 − 0.02/√width (0.905 at 0.25, 0.925 at 1).</item>
/// <item>Weight bits: ceiling − 0.4·2^(−bits) (−0.1 at 2 bits, −0.025 at 4); none when absent.</item>
/// <item>Adam: ceiling − 0.003.</item>
/// </list>
/// </remarks>
public static class SyntheticCurve
{
    public const double ChanceAccuracy = 0.1;
    /// <summary>Cross-entropy of a uniform guess over 10 classes, ln 10.</summary>
    public const double ChanceLoss = 2.302585092994046;
    /// <summary>Decades above the optimal learning rate beyond which training diverges.</summary>
    public const double DivergenceDecades = 1.5;

    /// <summary>The learning rate at which the run does best.</summary>
    public static double OptimalLr(SyntheticSettings s) => s.Optimizer == "adam" ? 1e-3 : 0.5 * (1 - s.Momentum);

    /// <summary>log10(lr / optimal lr): negative when too low.</summary>
    public static double LrDistance(SyntheticSettings s) => Math.Log10(s.Lr / OptimalLr(s));

    public static bool Diverges(SyntheticSettings s) => LrDistance(s) > DivergenceDecades;

    /// <summary>The accuracy the run approaches with many epochs.</summary>
    public static double Ceiling(SyntheticSettings s)
    {
        double cap = 0.945 - 0.02 / Math.Sqrt(s.Width);
        if (s.Bits is { } bits) cap -= 0.4 * Math.Pow(2, -bits);
        if (s.Optimizer == "adam") cap -= 0.003;
        double d = LrDistance(s);
        return ChanceAccuracy + (Math.Max(cap, ChanceAccuracy) - ChanceAccuracy) * Math.Exp(-0.05 * d * d);
    }

    /// <summary>The time constant of learning, in epochs.</summary>
    public static double TimeConstant(SyntheticSettings s)
    {
        double d = LrDistance(s);
        return 1.2 * (d < 0 ? Math.Pow(10, -d / 2) : 1 + d / 2);
    }

    /// <summary>Test accuracy after <paramref name="epoch"/> epochs, without noise.</summary>
    public static double ExpectedAccuracy(SyntheticSettings s, int epoch)
    {
        if (Diverges(s)) return ChanceAccuracy;
        return ChanceAccuracy + (Ceiling(s) - ChanceAccuracy) * (1 - Math.Exp(-epoch / TimeConstant(s)));
    }

    /// <summary>A cross-entropy-like loss for an accuracy: ln 10 at chance, about 0.29 at 0.9.</summary>
    public static double LossFor(double accuracy) =>
        ChanceLoss * Math.Pow(Math.Clamp((1 - accuracy) / (1 - ChanceAccuracy), 0, 1.2), 0.95);

    /// <summary>The learning rate in effect at the start of <paramref name="epoch"/>.</summary>
    public static double LearningRate(SyntheticSettings s, int epoch) =>
        s.LrSchedule == "cosine" ? s.Lr * 0.5 * (1 + Math.Cos(Math.PI * (epoch - 1) / s.Epochs)) : s.Lr;
}
