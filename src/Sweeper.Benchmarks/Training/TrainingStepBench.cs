using System.Diagnostics;
using Sweeper.Core.Spec;
using Sweeper.Training.Models;
using Sweeper.Training.Quantized;
using Sweeper.Training.Trainables;
using TorchSharp;
using static TorchSharp.torch;
using Sweeper.Core.Model;

namespace Sweeper.Benchmarks.Training;

/// <summary>Settings of <see cref="TrainingStepBench.Measure(TrainingStepBenchOptions?)"/>.</summary>
public sealed class TrainingStepBenchOptions
{
    /// <summary>Quantizer methods to time; <c>none</c> (float) is always timed too, as the reference.</summary>
    public IReadOnlyList<string> Methods { get; init; } = QuantizerNames.Methods;

    /// <summary>Model name (<see cref="ModelFactory.Names"/>).</summary>
    public string Model { get; init; } = ModelFactory.MobileNetV2Name;

    public double Width { get; init; } = 0.5;
    public int InputSize { get; init; } = 28;
    public int InputChannels { get; init; } = 1;
    public int Batch { get; init; } = 128;

    /// <summary>
    /// The quantizer settings besides the method (bits, per channel, options); default 4 bits per channel,
    /// first/last layers in float, no BN folding (<see cref="QuantizerSpec.BnFold"/> <c>qkeras</c> or <c>pytorch</c>
    /// times a folding recipe; <c>qkeras</c> costs a second convolution per layer and step).
    /// </summary>
    public QuantizerSpec Quantizer { get; init; } = new() { Bits = 4, PerChannel = true };

    /// <summary>Untimed steps of each method before the first round.</summary>
    public int Warmup { get; init; } = 2;

    /// <summary>Rounds; each times every method once, in an order rotated by one per round.</summary>
    public int Rounds { get; init; } = 7;

    /// <summary>Steps timed per method and round (the sample is their mean).</summary>
    public int StepsPerRound { get; init; } = 1;

    /// <summary>Seed of the weights and the (random) batch.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>libtorch intra-op threads while measuring (restored afterwards).</summary>
    public int Threads { get; init; } = 1;
}

/// <summary>One method's timings.</summary>
/// <param name="Method">Quantizer method (<c>none</c> = float).</param>
/// <param name="MedianMilliseconds">Median over rounds of the (wall-clock) time of one training step.</param>
/// <param name="RatioToFloat">Median over rounds of (this method's step time / the float step time of the same round).</param>
/// <param name="SamplesMilliseconds">Per round, the mean step time.</param>
/// <param name="MedianCpuMilliseconds">
/// Median over rounds of the process CPU time of one step: less sensitive than wall-clock time to other processes
/// competing for the cores (it still includes the runtime's own threads, e.g. GC).
/// </param>
/// <param name="CpuRatioToFloat">Median over rounds of the per-round ratio of CPU times to float.</param>
/// <param name="RatiosToFloat">Per round, this method's step time / the float step time of the same round (<see cref="RatioToFloat"/> is their median).</param>
public sealed record TrainingStepBenchRow(
    string Method,
    double MedianMilliseconds,
    double RatioToFloat,
    IReadOnlyList<double> SamplesMilliseconds,
    double MedianCpuMilliseconds,
    double CpuRatioToFloat,
    IReadOnlyList<double> RatiosToFloat)
{
    /// <summary>The middle half of <see cref="RatiosToFloat"/>: its quartiles, how far one run's median can be trusted.</summary>
    public (double Lower, double Upper) RatioQuartiles => (BenchStatistics.Quantile(RatiosToFloat, 0.25), BenchStatistics.Quantile(RatiosToFloat, 0.75));

    /// <summary>
    /// A 95 % confidence interval for the median of the per-round ratios (<see cref="BenchStatistics.MedianInterval"/>):
    /// where the ratio a longer run would settle on lies, given this run's rounds.
    /// </summary>
    public (double Lower, double Upper) RatioInterval => BenchStatistics.MedianInterval(RatiosToFloat);
}

/// <summary>
/// Times one training step (forward, cross-entropy, backward, SGD with momentum and weight decay) of a model per
/// quantizer method, in one process: every method gets its own model (same initial weights) and the same random batch;
/// after a warm-up the methods are timed in rounds, interleaved (the order rotates each round), so that drifts of the
/// machine's speed hit all methods alike; ratios are paired per round. Runs on the calling thread.
/// </summary>
public static class TrainingStepBench
{
    /// <summary>Measures every method of <paramref name="options"/> (default: MobileNetV2 width 0.5, 28×28, batch 128, one thread, all methods).</summary>
    public static IReadOnlyList<TrainingStepBenchRow> Measure(TrainingStepBenchOptions? options = null)
    {
        options ??= new TrainingStepBenchOptions();
        if (options.Rounds < 1 || options.StepsPerRound < 1 || options.Warmup < 0 || options.Batch < 1 || options.Threads < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "Rounds, StepsPerRound, Batch and Threads must be ≥ 1 and Warmup ≥ 0.");
        var methods = new List<string> { QuantizerMethod.None.Word() };
        methods.AddRange(options.Methods.Where(m => m != QuantizerMethod.None.Word()).Distinct());

        int threads = torch.get_num_threads();
        torch.set_num_threads(options.Threads);
        var runs = new List<Run>();
        try
        {
            using var generator = new Generator((ulong)options.Seed);
            using var x = torch.randn([options.Batch, options.InputChannels, options.InputSize, options.InputSize], generator: generator);
            using var y = torch.randint(0, 10, [options.Batch], generator: generator);
            foreach (var method in methods)
                runs.Add(new Run(method, options));
            foreach (var run in runs)
                for (int i = 0; i < options.Warmup; i++) run.Step(x, y);

            var samples = runs.Select(_ => new List<double>()).ToList();
            var cpu = runs.Select(_ => new List<double>()).ToList();
            for (int round = 0; round < options.Rounds; round++)
            {
                for (int k = 0; k < runs.Count; k++)
                {
                    int index = (k + round) % runs.Count;
                    var cpuStart = ProcessCpuTime.Now();
                    var watch = Stopwatch.StartNew();
                    for (int s = 0; s < options.StepsPerRound; s++) runs[index].Step(x, y);
                    samples[index].Add(watch.Elapsed.TotalMilliseconds / options.StepsPerRound);
                    cpu[index].Add((ProcessCpuTime.Now() - cpuStart).TotalMilliseconds / options.StepsPerRound);
                }
            }

            return runs.Select((run, i) =>
                {
                    var ratios = samples[i].Select((t, r) => t / samples[0][r]).ToList();
                    return new TrainingStepBenchRow(
                        run.Method,
                        BenchStatistics.Median(samples[i]),
                        BenchStatistics.Median(ratios),
                        samples[i],
                        BenchStatistics.Median(cpu[i]),
                        BenchStatistics.Median(cpu[i].Select((t, r) => t / Math.Max(cpu[0][r], 1e-9)).ToList()),
                        ratios);
                })
                .ToList();
        }
        finally
        {
            foreach (var run in runs) run.Dispose();
            torch.set_num_threads(threads);
        }
    }

    /// <summary>Measures one method against float (a convenience over <see cref="Measure(TrainingStepBenchOptions?)"/>).</summary>
    public static TrainingStepBenchRow Measure(string method, TrainingStepBenchOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        options ??= new TrainingStepBenchOptions();
        var rows = Measure(new TrainingStepBenchOptions
        {
            Methods = [method],
            Model = options.Model,
            Width = options.Width,
            InputSize = options.InputSize,
            InputChannels = options.InputChannels,
            Batch = options.Batch,
            Quantizer = options.Quantizer,
            Warmup = options.Warmup,
            Rounds = options.Rounds,
            StepsPerRound = options.StepsPerRound,
            Seed = options.Seed,
            Threads = options.Threads,
        });
        return rows.Single(r => r.Method == method);
    }

    /// <summary>One model with its optimizer, stepped on a fixed batch (also used by <see cref="IntraOpThreadsBench"/>).</summary>
    internal sealed class Run : IDisposable
    {
        private readonly nn.Module<Tensor, Tensor> model;
        private readonly optim.Optimizer optimizer;

        public Run(string method, TrainingStepBenchOptions options)
        {
            Method = method;
            var spec = new TrainableSpec
            {
                Model = options.Model,
                Width = options.Width,
                InputSize = options.InputSize,
                InputChannels = options.InputChannels,
                Dataset = new DatasetSpec(),
                Quantizer = options.Quantizer with { Method = method },
            };
            using var init = new Generator((ulong)options.Seed);
            model = ModelFactory.Create(spec, options.InputChannels, 10, init);
            model.train();
            // The optimizer a trial trains with (SGD, held scalars, no weight decay on the quantizers' scales).
            var scales = ((IQuantizableModel)model).Layers.Where(l => l.Quantizer is not null).SelectMany(l => l.Quantizer!.parameters()).ToList();
            optimizer = TorchTrainable.CreateOptimizer(new OptimizerSpec { Lr = 0.01, Momentum = 0.9, WeightDecay = 5e-5 }, model.parameters().ToList(), scales);
        }

        public string Method { get; }

        public void Step(Tensor x, Tensor y)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(x), y);
            loss.backward();
            optimizer.step();
            _ = loss.item<float>();
        }

        public void Dispose()
        {
            optimizer.Dispose();
            model.Dispose();
        }
    }
}
