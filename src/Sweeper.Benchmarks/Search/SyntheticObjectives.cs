using Sweeper.Core.Search;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Trials.Synthetic;
using Sweeper.Core.Model;

namespace Sweeper.Benchmarks.Search;

/// <summary>
/// A test function for searchers: a search space, a direction, an evaluation (which may be noisy,
/// driven by a per-evaluation seed), its noise-free value, and the best achievable value.
/// </summary>
public sealed record SyntheticObjective(
    string Name,
    string Description,
    SearchSpace Space,
    ObjectiveMode Mode,
    Func<IReadOnlyList<KeyValuePair<string, object>>, long, double> Evaluate,
    Func<IReadOnlyList<KeyValuePair<string, object>>, double> NoiseFree,
    double Optimum);

/// <summary>Synthetic objectives shaped like the sweeps Sweeper runs.</summary>
public static class SyntheticObjectives
{
    private const string Lr = SyntheticSettings.LrKey, Momentum = SyntheticSettings.MomentumKey,
        Optimizer = SyntheticSettings.OptimizerKey, Width = SyntheticSettings.WidthKey, Bits = "quantization.bits";

    /// <summary>
    /// Branin (min 0.397887) over log10(lr) ∈ [−5, 0] mapped to x1 ∈ [−5, 10] and momentum ∈ [0, 0.99]
    /// mapped to x2 ∈ [0, 15]; minimise. Three optima, at lr ≈ 1.1e-3, 4.2e-2 and 1.4 (clipped to 1).
    /// </summary>
    public static SyntheticObjective BraninLogLr { get; } = new(
        "branin-log-lr",
        "Branin in (log10 lr, momentum), minimise",
        new SearchSpace(
            new ParameterDefinition(Lr, ParameterDomain.LogUniform(1e-5, 1)),
            new ParameterDefinition(Momentum, ParameterDomain.Uniform(0, 0.99))),
        ObjectiveMode.Min,
        (p, _) => BraninOf(p),
        BraninOf,
        0.39788735772973816);

    /// <summary>
    /// Conditional: optimizer (sgd | adam), lr (log), momentum only for SGD, width (4 values),
    /// weight bits 2..8; maximise the noise-free synthetic test accuracy after 10 epochs. Adam above
    /// lr ≈ 0.03 diverges (chance accuracy).
    /// </summary>
    public static SyntheticObjective ConditionalOptimizer { get; } = new(
        "conditional-optimizer",
        "synthetic accuracy after 10 epochs; momentum only for sgd; maximise",
        new SearchSpace(
            new ParameterDefinition(Optimizer, ParameterDomain.Values("sgd", "adam")),
            new ParameterDefinition(Lr, ParameterDomain.LogUniform(1e-5, 1)),
            new ParameterDefinition(Momentum, ParameterDomain.Uniform(0, 0.99), ParameterCondition.On(Optimizer, "sgd")),
            new ParameterDefinition(Width, ParameterDomain.Values(0.25, 0.5, 0.75, 1.0)),
            new ParameterDefinition(Bits, ParameterDomain.IntUniform(2, 8))),
        ObjectiveMode.Max,
        (p, _) => AccuracyOf(p, 10),
        p => AccuracyOf(p, 10),
        SyntheticCurve.ExpectedAccuracy(new SyntheticSettings { Lr = 0.05, Momentum = 0.9, Width = 1.0, Bits = 8, Epochs = 10 }, 10));

    /// <summary>
    /// Noisy: lr (log), width ∈ [0.25, 1], bits 2..8 (SGD, momentum 0.9); maximise the final test
    /// accuracy of an 8-epoch <see cref="SyntheticTrainable"/> run with noise σ = 0.01 seeded per evaluation.
    /// </summary>
    public static SyntheticObjective NoisyTrainable { get; } = new(
        "noisy-trainable",
        "final test accuracy of an 8-epoch synthetic run, noise sd 0.01; maximise",
        new SearchSpace(
            new ParameterDefinition(Lr, ParameterDomain.LogUniform(1e-5, 1)),
            new ParameterDefinition(Width, ParameterDomain.Uniform(0.25, 1.0)),
            new ParameterDefinition(Bits, ParameterDomain.IntUniform(2, 8))),
        ObjectiveMode.Max,
        RunTrainable,
        p => AccuracyOf(p, 8),
        SyntheticCurve.ExpectedAccuracy(new SyntheticSettings { Lr = 0.05, Width = 1.0, Bits = 8, Epochs = 8 }, 8));

    public static IReadOnlyList<SyntheticObjective> All { get; } = [BraninLogLr, ConditionalOptimizer, NoisyTrainable];

    /// <summary>Branin–Hoo: (x2 − 5.1x1²/(4π²) + 5x1/π − 6)² + 10(1 − 1/(8π))cos x1 + 10.</summary>
    public static double Branin(double x1, double x2)
    {
        double b = 5.1 / (4 * Math.PI * Math.PI), c = 5 / Math.PI, t = 1 / (8 * Math.PI);
        double u = x2 - b * x1 * x1 + c * x1 - 6;
        return u * u + 10 * (1 - t) * Math.Cos(x1) + 10;
    }

    private static double BraninOf(IReadOnlyList<KeyValuePair<string, object>> p)
    {
        double x1 = -5 + 15 * (Math.Log10(Get(p, Lr)) + 5) / 5;
        double x2 = 15 * Get(p, Momentum) / 0.99;
        return Branin(x1, x2);
    }

    private static double AccuracyOf(IReadOnlyList<KeyValuePair<string, object>> p, int epochs) =>
        SyntheticCurve.ExpectedAccuracy(SyntheticSettings.From(Config(p, 0, epochs)), epochs);

    private static double RunTrainable(IReadOnlyList<KeyValuePair<string, object>> p, long seed)
    {
        using var trainable = new SyntheticTrainable(Config(p, seed, 8), new SyntheticTrainableOptions { NoiseStd = 0.01 });
        return trainable.RunEpoch(trainable.TotalEpochs, CancellationToken.None).Get(MetricNames.TestAccuracy);
    }

    private static TrialConfig Config(IReadOnlyList<KeyValuePair<string, object>> p, long seed, int epochs) => new()
    {
        Id = new TrialId(0),
        Seed = seed,
        Parameters = p,
        Trainable = new TrainableSpec { Dataset = new DatasetSpec(), Epochs = epochs },
    };

    private static double Get(IReadOnlyList<KeyValuePair<string, object>> p, string key)
    {
        foreach (var kv in p)
            if (kv.Key == key && ParameterValues.TryGetDouble(kv.Value, out double v)) return v;
        throw new ArgumentException($"parameter '{key}' is missing");
    }
}
