using System.Diagnostics;
using Sweeper.Training.Models;
using Sweeper.Training.Quantized;
using Sweeper.Core.Model;
using Sweeper.Quantization.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Benchmarks.Training;

/// <summary>One method's quantizers alone: every quantized layer's weight fake-quant, forward and backward, per model pass.</summary>
/// <param name="Layers">Quantized layers of the model.</param>
/// <param name="ForwardMilliseconds">Median time of one training-mode forward pass of every layer's quantizer (search, exponent bookkeeping, fake-quant).</param>
/// <param name="BackwardMilliseconds">Median time of the backward pass through those outputs (one gradient of ones per layer).</param>
public sealed record QuantizerPassRow(string Method, int Layers, double ForwardMilliseconds, double BackwardMilliseconds)
{
    public double TotalMilliseconds => ForwardMilliseconds + BackwardMilliseconds;
}

/// <summary>
/// What a training step spends in the quantizers themselves, without convolutions: the model of
/// <see cref="TrainingStepBenchOptions"/> is built per method, and every quantized layer's quantizer runs forward (in
/// training mode, as in a step, all in one call as the model runs them ahead of its forward pass:
/// <see cref="WeightQuantizer.ForwardAll"/>) and backward on its weight, <see cref="TrainingStepBenchOptions.Rounds"/> times after the
/// warm-up. Divided by the float step of <see cref="TrainingStepBench"/>, it is the share of a step the method adds.
/// </summary>
public static class QuantizerPassBench
{
    public static IReadOnlyList<QuantizerPassRow> Measure(TrainingStepBenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int threads = torch.get_num_threads();
        torch.set_num_threads(options.Threads);
        try
        {
            return options.Methods.Where(m => m != Core.Model.QuantizerMethod.None.Word()).Distinct().Select(method => MeasureOne(method, options)).ToList();
        }
        finally
        {
            torch.set_num_threads(threads);
        }
    }

    private static QuantizerPassRow MeasureOne(string method, TrainingStepBenchOptions options)
    {
        var spec = new Core.Spec.TrainableSpec
        {
            Model = options.Model, Width = options.Width, InputSize = options.InputSize, InputChannels = options.InputChannels,
            Dataset = new Core.Spec.DatasetSpec(), Quantizer = options.Quantizer with { Method = method },
        };
        using var init = new Generator((ulong)options.Seed);
        using var model = ModelFactory.Create(spec, options.InputChannels, 10, init);
        model.train();
        var layers = ((IQuantizableModel)model).Layers
            .Where(l => l.Quantizer is not null)
            .Select(l => (l.Quantizer!, Weight: ((nn.Module)l).named_parameters(recurse: false).Single(p => p.name == "weight").parameter))
            .ToList();
        var quantizers = layers.ConvertAll(l => l.Item1);
        var weights = layers.ConvertAll(l => (Tensor)l.Weight);
        var forward = new List<double>();
        var backward = new List<double>();
        for (int pass = 0; pass < options.Warmup + options.Rounds; pass++)
        {
            using var scope = torch.NewDisposeScope();
            var clock = Stopwatch.StartNew();
            var outputs = WeightQuantizer.ForwardAll(quantizers, weights); // as the model runs them ahead of its forward pass
            double f = clock.Elapsed.TotalMilliseconds;
            var gradients = outputs.Select(o => torch.ones_like(o)).ToList();
            clock.Restart();
            torch.autograd.backward(outputs, gradients);
            double b = clock.Elapsed.TotalMilliseconds;
            foreach (var (_, weight) in layers) weight.grad?.zero_();
            if (pass < options.Warmup) continue;
            forward.Add(f);
            backward.Add(b);
        }
        return new QuantizerPassRow(method, layers.Count, BenchStatistics.Median(forward), BenchStatistics.Median(backward));
    }
}
