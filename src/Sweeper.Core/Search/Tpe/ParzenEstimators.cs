namespace Sweeper.Core.Search.Tpe;

/// <summary>
/// How a numeric domain is modelled: in model space (log space for <c>log_uniform</c>) on
/// [Low, High] (infinite for <c>normal</c>), discrete with <see cref="Step"/> for quantised linear
/// domains; the prior kernel is N(PriorMu, Range).
/// </summary>
internal sealed record NumericModel(double Low, double High, double? Step, double PriorMu, double Range)
{
    public double LowExtended => Low - (Step ?? 0) / 2;
    public double HighExtended => High + (Step ?? 0) / 2;
}

/// <summary>Optuna's univariate Parzen estimator for a numeric parameter: a weighted mixture of truncated normals.</summary>
internal sealed class NumericParzenEstimator
{
    private readonly NumericModel _model;
    private readonly double[] _mus, _sigmas, _logSigmas, _cumulativeWeights, _logWeights, _logNormalizers;

    public NumericParzenEstimator(IReadOnlyList<double> observations, NumericModel model, TpeOptions options)
    {
        _model = model;
        int n = observations.Count;
        bool considerPrior = options.ConsiderPrior || n == 0;

        double[] sigmas = n == 0 ? [] : ObservationBandwidths(observations, model, considerPrior, options);
        _mus = considerPrior ? [.. observations, model.PriorMu] : [.. observations];
        _sigmas = considerPrior ? [.. sigmas, model.Range] : sigmas;

        double[] weights;
        if (n == 0) weights = [1.0];
        else
        {
            var w = options.Weights(n);
            if (w.Length < n) throw new InvalidOperationException($"the TPE weights function returned {w.Length} weights for {n} observations");
            weights = considerPrior ? [.. w.Take(n), options.PriorWeight] : w.Take(n).ToArray();
        }
        double total = weights.Sum();
        _cumulativeWeights = new double[weights.Length];
        _logWeights = new double[weights.Length];
        double running = 0;
        for (int k = 0; k < weights.Length; k++)
        {
            running += weights[k] / total;
            _cumulativeWeights[k] = running;
            _logWeights[k] = Math.Log(weights[k] / total);
        }

        _logSigmas = _sigmas.Select(s => Math.Log(s)).ToArray();
        _logNormalizers = new double[_mus.Length];
        for (int k = 0; k < _mus.Length; k++)
            _logNormalizers[k] = Gauss.LogMass((model.LowExtended - _mus[k]) / _sigmas[k], (model.HighExtended - _mus[k]) / _sigmas[k]);
    }

    public int Kernels => _mus.Length;
    public IReadOnlyList<double> Mus => _mus;
    public IReadOnlyList<double> Sigmas => _sigmas;

    /// <summary>
    /// Bandwidths of the observation kernels: the larger distance to a sorted neighbour (the prior
    /// mean counts as a point, the domain ends as outer neighbours), the outermost taking their inner
    /// neighbour only unless endpoints are considered, clipped to [range / min(100, 1 + kernels), range].
    /// </summary>
    private static double[] ObservationBandwidths(IReadOnlyList<double> observations, NumericModel model, bool considerPrior, TpeOptions options)
    {
        int n = observations.Count;
        double stepOr0 = model.Step ?? 0;
        double[] points = considerPrior ? [.. observations, model.PriorMu] : [.. observations];
        int m = points.Length;
        int[] order = Enumerable.Range(0, m).OrderBy(i => points[i]).ThenBy(i => i).ToArray();
        var withEnds = new double[m + 2];
        withEnds[0] = model.Low - stepOr0 / 2;
        for (int i = 0; i < m; i++) withEnds[i + 1] = points[order[i]];
        withEnds[m + 1] = model.High + stepOr0 / 2;

        var sorted = new double[m];
        for (int i = 0; i < m; i++)
            sorted[i] = Math.Max(withEnds[i + 1] - withEnds[i], withEnds[i + 2] - withEnds[i + 1]);
        if (!options.ConsiderEndpoints && withEnds.Length >= 4)
        {
            sorted[0] = withEnds[2] - withEnds[1];
            sorted[m - 1] = withEnds[m] - withEnds[m - 1];
        }

        double maxSigma = model.Range;
        double minSigma = options.ConsiderMagicClip
            ? model.Range / Math.Min(100.0, 1.0 + n + (considerPrior ? 1 : 0))
            : 1e-12;
        var sigmas = new double[n];
        for (int i = 0; i < m; i++)
            if (order[i] < n) sigmas[order[i]] = Math.Clamp(sorted[i], minSigma, maxSigma);
        return sigmas;
    }

    /// <summary>Draws a model-space value (not rounded to the step): a kernel by weight, then its truncated normal.</summary>
    public double Sample(Random random)
    {
        int k = PickKernel(random);
        double lo = _model.LowExtended, hi = _model.HighExtended;
        double z = Gauss.SampleTruncated((lo - _mus[k]) / _sigmas[k], (hi - _mus[k]) / _sigmas[k], random);
        return Math.Clamp(_mus[k] + _sigmas[k] * z, lo, hi);
    }

    /// <summary>ln of the mixture density at model-space <paramref name="x"/> (probability of x's bin when discrete).</summary>
    public double LogPdf(double x)
    {
        double max = double.NegativeInfinity;
        Span<double> terms = _mus.Length <= 256 ? stackalloc double[_mus.Length] : new double[_mus.Length];
        for (int k = 0; k < _mus.Length; k++)
        {
            double mu = _mus[k], sigma = _sigmas[k], log;
            if (_model.Step is { } step)
            {
                double lo = Math.Max(x - step / 2, _model.LowExtended), hi = Math.Min(x + step / 2, _model.HighExtended);
                log = Gauss.LogMass((lo - mu) / sigma, (hi - mu) / sigma);
            }
            else
            {
                log = x < _model.Low || x > _model.High
                    ? double.NegativeInfinity
                    : Gauss.LogPdf((x - mu) / sigma) - _logSigmas[k];
            }
            terms[k] = _logWeights[k] + log - _logNormalizers[k];
            if (terms[k] > max) max = terms[k];
        }
        if (double.IsNegativeInfinity(max) || double.IsNaN(max)) return double.NegativeInfinity;
        double sum = 0;
        foreach (double t in terms) sum += Math.Exp(t - max);
        return max + Math.Log(sum);
    }

    private int PickKernel(Random random)
    {
        double u = random.NextDouble();
        for (int k = 0; k < _cumulativeWeights.Length - 1; k++)
            if (u < _cumulativeWeights[k]) return k;
        return _cumulativeWeights.Length - 1;
    }
}

/// <summary>Optuna's Parzen estimator for a categorical parameter: per observation, the prior weight spread over all choices plus one for the observed choice.</summary>
internal sealed class CategoricalParzenEstimator
{
    private readonly double[] _probabilities;

    public CategoricalParzenEstimator(IReadOnlyList<int> observations, int choices, TpeOptions options)
    {
        int n = observations.Count;
        bool considerPrior = options.ConsiderPrior || n == 0;
        int kernels = n + (considerPrior ? 1 : 0);

        double[] mixture;
        if (n == 0) mixture = [1.0];
        else
        {
            var w = options.Weights(n);
            mixture = considerPrior ? [.. w.Take(n), options.PriorWeight] : w.Take(n).ToArray();
        }
        double total = mixture.Sum();

        // Each kernel's row: priorWeight/kernels everywhere, +1 at its observation, normalised.
        double fill = options.PriorWeight / kernels;
        _probabilities = new double[choices];
        for (int k = 0; k < kernels; k++)
        {
            bool isObservation = k < n;
            double rowSum = fill * choices + (isObservation ? 1 : 0);
            for (int c = 0; c < choices; c++)
            {
                double cell = fill + (isObservation && observations[k] == c ? 1 : 0);
                _probabilities[c] += mixture[k] / total * cell / rowSum;
            }
        }
    }

    public IReadOnlyList<double> Probabilities => _probabilities;

    public int Sample(Random random)
    {
        double u = random.NextDouble(), running = 0;
        for (int c = 0; c < _probabilities.Length - 1; c++)
        {
            running += _probabilities[c];
            if (u < running) return c;
        }
        return _probabilities.Length - 1;
    }

    public double LogPdf(int choice) => Math.Log(_probabilities[choice]);
}
