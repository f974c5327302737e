using System.Diagnostics;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Benchmarks.Training;

/// <summary>One thread count's timings in <see cref="IntraOpThreadsBench"/>.</summary>
/// <param name="Threads">libtorch intra-op threads.</param>
/// <param name="MedianMilliseconds">Median over rounds of one training step's wall-clock time.</param>
/// <param name="SpeedUp">Median over rounds of (the one-thread step time / this count's step time in the same round).</param>
public sealed record IntraOpThreadsRow(int Threads, double MedianMilliseconds, double SpeedUp);

/// <summary>
/// The speed-up of one training step (forward, cross-entropy, backward, SGD) from more intra-op threads: one model, one
/// batch, the thread counts timed in interleaved rounds on the calling thread (the count set on that thread before each
/// sample, as a trial sets its own), ratios paired per round.
/// </summary>
public static class IntraOpThreadsBench
{
    public static IReadOnlyList<IntraOpThreadsRow> Measure(IReadOnlyList<int> threadCounts, TrainingStepBenchOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(threadCounts);
        options ??= new TrainingStepBenchOptions();
        var counts = new List<int> { 1 };
        counts.AddRange(threadCounts.Where(t => t > 1).Distinct());
        int before = torch.get_num_threads(); // also starts libtorch's per-thread count on this thread (see TorchTrainable.UseThreads)
        using var generator = new Generator((ulong)options.Seed);
        using var x = torch.randn([options.Batch, options.InputChannels, options.InputSize, options.InputSize], generator: generator);
        using var y = torch.randint(0, 10, [options.Batch], generator: generator);
        using var run = new TrainingStepBench.Run(QuantizerMethod.None.Word(), options);
        var samples = counts.Select(_ => new List<double>()).ToList();
        try
        {
            foreach (int t in counts)
            {
                torch.set_num_threads(t);
                for (int i = 0; i < options.Warmup; i++) run.Step(x, y);
            }
            for (int round = 0; round < options.Rounds; round++)
                for (int k = 0; k < counts.Count; k++)
                {
                    int index = (k + round) % counts.Count;
                    torch.set_num_threads(counts[index]);
                    var watch = Stopwatch.StartNew();
                    for (int s = 0; s < options.StepsPerRound; s++) run.Step(x, y);
                    samples[index].Add(watch.Elapsed.TotalMilliseconds / options.StepsPerRound);
                }
        }
        finally
        {
            torch.set_num_threads(before);
        }
        return counts.Select((t, i) => new IntraOpThreadsRow(t, BenchStatistics.Median(samples[i]),
            BenchStatistics.Median(samples[i].Select((ms, r) => samples[0][r] / ms).ToList()))).ToList();
    }
}
