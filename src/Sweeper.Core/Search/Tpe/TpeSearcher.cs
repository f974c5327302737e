using Sweeper.Core.Model;

namespace Sweeper.Core.Search.Tpe;

/// <summary>
/// Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio, Kégl 2011) as in Optuna's
/// univariate <c>TPESampler</c>: observed configurations are split into the best γ(n) ("below",
/// l(x)) and the rest ("above", g(x)); for each parameter, <see cref="TpeOptions.EiCandidates"/>
/// candidates are drawn from l and the one maximising l(x)/g(x) is suggested.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Until <see cref="TpeOptions.StartupTrials"/> configurations are observed, suggestions are
/// exactly those of a <see cref="RandomSearcher"/> with the same seed.</item>
/// <item><c>log_uniform</c> is modelled in log space; <c>uniform</c>/<c>int_uniform</c> with a step as discrete
/// (each kernel's mass on the value's bin); a quantised <c>log_uniform</c> is modelled continuously in log
/// space and rounded after sampling; <c>normal(mu, sigma)</c> uses untruncated kernels, prior N(mu, sigma) and
/// sigma in place of the domain width (hyperopt's rule); <c>values</c> by weighted counts.</item>
/// <item>Conditional parameters: γ splits all observed configurations; each parameter's l and g are
/// built only from the configurations where it was active (Optuna's define-by-run behaviour).</item>
/// <item>NaN and ±∞ objectives rank below every finite one (they always fall in "above").</item>
/// <item>Configurations suggested but not yet observed are ignored (no constant liar).</item>
/// </list>
/// </remarks>
public sealed class TpeSearcher : SearcherBase
{
    private readonly TpeOptions _options;
    private readonly Dictionary<string, NumericModel> _models = new(StringComparer.Ordinal);

    /// <param name="numSamples">How many configurations to propose; null for no limit.</param>
    public TpeSearcher(SearchSpace space, ObjectiveMode mode, long seed, int? numSamples = null, TpeOptions? options = null)
        : base(space, mode, seed)
    {
        if (numSamples is < 0) throw new ArgumentOutOfRangeException(nameof(numSamples), numSamples, "num_samples must not be negative");
        _options = options ?? new TpeOptions();
        _options.Validate();
        NumSamples = numSamples;
        foreach (var p in space)
            if (ModelOf(p.Domain) is { } model) _models[p.Key] = model;
    }

    public int? NumSamples { get; }
    public TpeOptions Options => _options;
    public override long? Count => NumSamples;

    protected override Suggestion Create(int index, Random random)
    {
        var observed = new List<(int Index, IReadOnlyList<KeyValuePair<string, object>> Parameters, double Score)>();
        foreach (var (i, objective) in Observations)
            observed.Add((i, Suggested(i)!.Parameters, Mode.Rank(objective)));
        if (observed.Count < _options.StartupTrials) return new(index, SampleConfiguration(Space, random));

        int n = observed.Count;
        int nBelow = Math.Clamp(_options.Gamma(n), 0, n);
        var ranked = observed.OrderByDescending(o => o.Score).ThenBy(o => o.Index).ToList();
        var below = ranked.Take(nBelow).OrderBy(o => o.Index).Select(o => o.Parameters).ToList();
        var above = ranked.Skip(nBelow).OrderBy(o => o.Index).Select(o => o.Parameters).ToList();

        var assignment = new List<KeyValuePair<string, object>>(Space.Count);
        foreach (var p in Space)
        {
            if (!SearchSpace.IsActive(p, assignment)) continue;
            assignment.Add(new(p.Key, SampleParameter(p, below, above, random)));
        }
        return new Suggestion(index, assignment);
    }

    private object SampleParameter(
        ParameterDefinition p,
        List<IReadOnlyList<KeyValuePair<string, object>>> below,
        List<IReadOnlyList<KeyValuePair<string, object>>> above,
        Random random)
    {
        if (p.Domain is ValuesDomain values)
        {
            if (values.Choices.Count == 1) return values.Choices[0];
            var l = new CategoricalParzenEstimator(Collect(below, p.Key, values.IndexOf), values.Choices.Count, _options);
            var g = new CategoricalParzenEstimator(Collect(above, p.Key, values.IndexOf), values.Choices.Count, _options);
            int best = -1;
            double bestScore = double.NegativeInfinity;
            for (int c = 0; c < _options.EiCandidates; c++)
            {
                int candidate = l.Sample(random);
                double score = l.LogPdf(candidate) - g.LogPdf(candidate);
                if (best < 0 || score > bestScore) (best, bestScore) = (candidate, score);
            }
            return values.Choices[best];
        }

        var model = _models[p.Key];
        if (model.Range <= 0) return FromModel(p.Domain, model.Low);
        var lNum = new NumericParzenEstimator(Collect(below, p.Key, v => ToModel(p.Domain, v)), model, _options);
        var gNum = new NumericParzenEstimator(Collect(above, p.Key, v => ToModel(p.Domain, v)), model, _options);
        object? bestValue = null;
        double bestNumScore = double.NegativeInfinity;
        var scores = new Dictionary<double, double>(); // quantised domains repeat candidates
        for (int c = 0; c < _options.EiCandidates; c++)
        {
            object value = FromModel(p.Domain, lNum.Sample(random));
            double x = ToModel(p.Domain, value);
            if (!scores.TryGetValue(x, out double score)) scores[x] = score = lNum.LogPdf(x) - gNum.LogPdf(x);
            if (bestValue is null || score > bestNumScore) (bestValue, bestNumScore) = (value, score);
        }
        return bestValue!;
    }

    private static List<T> Collect<T>(List<IReadOnlyList<KeyValuePair<string, object>>> group, string key, Func<object, T> map)
    {
        var result = new List<T>(group.Count);
        foreach (var parameters in group)
            foreach (var kv in parameters)
                if (string.Equals(kv.Key, key, StringComparison.Ordinal)) { result.Add(map(kv.Value)); break; }
        return result;
    }

    internal static NumericModel? ModelOf(ParameterDomain domain) => domain switch
    {
        UniformDomain u => Bounded(u.Low, u.EffectiveHigh, u.Q),
        IntUniformDomain i => Bounded(i.Low, i.EffectiveHigh, i.Q),
        LogUniformDomain l => Bounded(Math.Log(l.Low), Math.Log(l.EffectiveHigh), null),
        NormalDomain n => new NumericModel(double.NegativeInfinity, double.PositiveInfinity, n.Q, n.Mu, n.Sigma),
        _ => null,
    };

    private static NumericModel Bounded(double low, double high, double? step) =>
        high <= low
            ? new NumericModel(low, low, null, low, 0)
            : new NumericModel(low, high, step, 0.5 * (low + high), high - low + (step ?? 0));

    internal static double ToModel(ParameterDomain domain, object value)
    {
        ParameterValues.TryGetDouble(value, out double x);
        return domain is LogUniformDomain ? Math.Log(x) : x;
    }

    internal static object FromModel(ParameterDomain domain, double x) => domain switch
    {
        UniformDomain u => (object)u.Snap(x),
        IntUniformDomain i => (object)i.Snap(x),
        LogUniformDomain l => (object)l.Snap(Math.Exp(x)),
        NormalDomain n => (object)n.Snap(x),
        _ => throw new InvalidOperationException($"{domain} is not numeric"),
    };
}
