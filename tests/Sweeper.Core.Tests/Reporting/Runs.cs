using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Tests.Reporting;

/// <summary>Hand-made sweep results for the reporting tests.</summary>
internal static class Runs
{
    public static readonly DateTimeOffset Start = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    public static SweepResult SweepOf(IEnumerable<TrialRecord> trials, ObjectiveMode mode = ObjectiveMode.Max, string name = "sweep") =>
        new(name, new ObjectiveSpec(MetricNames.TestAccuracy, mode), trials.ToList(), Start, Start.AddMinutes(5));

    /// <summary>A trial whose last epoch has <paramref name="objective"/> as its test accuracy.</summary>
    public static TrialRecord Trial(int id, int configIndex, int repeat, double objective, TrialState state = TrialState.Completed,
        (string Key, object Value)[]? parameters = null, IReadOnlyDictionary<string, double>? lastMetrics = null, int resumes = 0, int epochs = 2)
    {
        var list = new List<EpochResult>();
        for (int e = 1; e <= epochs; e++)
        {
            var metrics = new Dictionary<string, double> { [MetricNames.TestAccuracy] = e == epochs ? objective : objective / 2, [MetricNames.TestLoss] = 1.0 / e };
            if (e == epochs && lastMetrics is not null)
                foreach (var (k, v) in lastMetrics) metrics[k] = v;
            list.Add(new EpochResult(e, metrics, TimeSpan.FromSeconds(1)));
        }
        return new TrialRecord
        {
            Config = new TrialConfig
            {
                Id = new TrialId(id),
                Seed = 100 + id,
                Parameters = (parameters ?? []).Select(p => new KeyValuePair<string, object>(p.Key, p.Value)).ToList(),
                Trainable = new TrainableSpec { Dataset = new DatasetSpec(), Epochs = epochs },
                ConfigIndex = configIndex,
                Repeat = repeat,
            },
            State = state,
            Epochs = list,
            StartedAt = Start,
            FinishedAt = Start.AddSeconds(10 * id),
            Resumes = Enumerable.Range(0, resumes).Select(i => new TrialResume(1, "worker left", Start.AddSeconds(i))).ToList(),
        };
    }

    /// <summary>A quantized trial: <paramref name="layers"/> layers, each with an exponent and a running flip count per epoch.</summary>
    public static TrialRecord Quantized(int id, string[] layers, int epochs, Func<int, int, double> exponent, Func<int, int, double> runningFlips,
        (string Key, object Value)[]? parameters = null, int configIndex = 0, int repeat = 0, TrialResume[]? resumes = null)
    {
        var list = new List<EpochResult>();
        for (int e = 1; e <= epochs; e++)
        {
            var metrics = new Dictionary<string, double> { [MetricNames.TestAccuracy] = 0.5 + 0.03 * e + 0.001 * id, [MetricNames.TestLoss] = 1.0 / e };
            double total = 0;
            for (int l = 0; l < layers.Length; l++)
            {
                metrics[$"quant.{layers[l]}.exponent_mean"] = exponent(l, e);
                metrics[$"quant.{layers[l]}.msqe"] = 1e-4 * (l + 1);
                metrics[$"quant.{layers[l]}.flips"] = runningFlips(l, e);
                total += runningFlips(l, e);
            }
            metrics["quant.flips_total"] = total;
            list.Add(new EpochResult(e, metrics, TimeSpan.FromSeconds(1.25)));
        }
        return new TrialRecord
        {
            Config = new TrialConfig
            {
                Id = new TrialId(id),
                Seed = 7 * id,
                Parameters = (parameters ?? []).Select(p => new KeyValuePair<string, object>(p.Key, p.Value)).ToList(),
                Trainable = new TrainableSpec { Dataset = new DatasetSpec(), Epochs = epochs },
                ConfigIndex = configIndex,
                Repeat = repeat,
            },
            State = TrialState.Completed,
            Epochs = list,
            StartedAt = Start,
            FinishedAt = Start.AddSeconds(30),
            Resumes = resumes ?? [],
        };
    }
}
