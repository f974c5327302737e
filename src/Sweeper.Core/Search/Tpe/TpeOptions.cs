namespace Sweeper.Core.Search.Tpe;

/// <summary>
/// Settings of <see cref="TpeSearcher"/>. The defaults are those of Optuna's <c>TPESampler</c>
/// (univariate, which Optuna uses by default): 10 random startup trials, 24 EI candidates, a prior
/// of weight 1, magic clip on, endpoints off, γ(n) = min(⌈0.1·n⌉, 25) and Optuna's default weights.
/// </summary>
public sealed record TpeOptions
{
    /// <summary>Until this many configurations have been observed, suggestions are random (the same as <see cref="RandomSearcher"/>'s).</summary>
    public int StartupTrials { get; init; } = 10;

    /// <summary>Candidates drawn from l(x) per parameter; the one maximising l(x)/g(x) is suggested.</summary>
    public int EiCandidates { get; init; } = 24;

    /// <summary>Add the prior kernel (centred on the domain, as wide as the domain) to each estimator.</summary>
    public bool ConsiderPrior { get; init; } = true;

    /// <summary>Mixture weight of the prior kernel, relative to an observation's weight.</summary>
    public double PriorWeight { get; init; } = 1.0;

    /// <summary>Clip bandwidths to at least range / min(100, 1 + kernels) (hyperopt's "magic clip").</summary>
    public bool ConsiderMagicClip { get; init; } = true;

    /// <summary>When false, the outermost observations take their bandwidth from their inner neighbour only, not the domain ends.</summary>
    public bool ConsiderEndpoints { get; init; }

    /// <summary>γ: how many of n observations form the "good" group l(x).</summary>
    public Func<int, int> Gamma { get; init; } = DefaultGamma;

    /// <summary>Mixture weights of n observations, oldest first.</summary>
    public Func<int, double[]> Weights { get; init; } = DefaultWeights;

    /// <summary>Optuna's <c>default_gamma</c>: min(⌈0.1·n⌉, 25).</summary>
    public static int DefaultGamma(int n) => Math.Min((int)Math.Ceiling(0.1 * n), 25);

    /// <summary>Optuna's <c>default_weights</c>: all 1 below 25; beyond, a ramp from 1/n up to 1 for the older ones and 1 for the latest 25.</summary>
    public static double[] DefaultWeights(int n)
    {
        var w = new double[Math.Max(n, 0)];
        if (n < 25)
        {
            Array.Fill(w, 1.0);
            return w;
        }
        int rampLength = n - 25;
        for (int i = 0; i < rampLength; i++)
            w[i] = rampLength == 1 ? 1.0 / n : 1.0 / n + i * (1.0 - 1.0 / n) / (rampLength - 1);
        for (int i = rampLength; i < n; i++) w[i] = 1.0;
        return w;
    }

    internal void Validate()
    {
        if (StartupTrials < 0) throw new ArgumentOutOfRangeException(nameof(StartupTrials), StartupTrials, "must not be negative");
        if (EiCandidates < 1) throw new ArgumentOutOfRangeException(nameof(EiCandidates), EiCandidates, "must be at least 1");
        if (ConsiderPrior && !(PriorWeight > 0 && double.IsFinite(PriorWeight)))
            throw new ArgumentOutOfRangeException(nameof(PriorWeight), PriorWeight, "must be positive");
        ArgumentNullException.ThrowIfNull(Gamma);
        ArgumentNullException.ThrowIfNull(Weights);
    }
}
