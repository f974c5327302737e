using System.Diagnostics;
using Sweeper.Quantization.Po2;
using Sweeper.Quantization.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Benchmarks.Quantization;

/// <summary>Settings of <see cref="QuantizerBench.Measure"/>.</summary>
public sealed class QuantizerBenchOptions
{
    /// <summary>Conv weight shapes [out, in, kh, kw]; per-channel over axis 0.</summary>
    public IReadOnlyList<long[]> Shapes { get; init; } = [[64, 32, 3, 3], [128, 128, 1, 1]];

    /// <summary>Bit width.</summary>
    public int Bits { get; init; } = 4;

    /// <summary>Timed iterations per measurement (the median is reported).</summary>
    public int Iterations { get; init; } = 30;

    /// <summary>Untimed iterations before each measurement.</summary>
    public int Warmup { get; init; } = 3;

    /// <summary>Batch size of the conv input used for the float/quantized conv step.</summary>
    public int Batch { get; init; } = 8;

    /// <summary>Height and width of the conv input.</summary>
    public int Spatial { get; init; } = 16;

    /// <summary>Seed of the weights and inputs.</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>One row of <see cref="QuantizerBench.Measure"/>; times are medians in microseconds.</summary>
/// <param name="Quantizer">Quantizer configuration.</param>
/// <param name="Shape">Weight shape.</param>
/// <param name="Bits">Bit width.</param>
/// <param name="QuantizerMicroseconds">Forward + backward of the quantizer alone (loss = Σ c·q(w)).</param>
/// <param name="FloatConvMicroseconds">Forward + backward of a conv2d with the float weight.</param>
/// <param name="QuantizedConvMicroseconds">Forward + backward of the same conv2d with the quantized weight.</param>
public sealed record QuantizerBenchResult(
    string Quantizer,
    long[] Shape,
    int Bits,
    double QuantizerMicroseconds,
    double FloatConvMicroseconds,
    double QuantizedConvMicroseconds)
{
    /// <summary>Quantized conv step time / float conv step time.</summary>
    public double ConvRatio => QuantizedConvMicroseconds / FloatConvMicroseconds;

    /// <summary>Quantizer-alone time / float conv step time.</summary>
    public double QuantizerRatio => QuantizerMicroseconds / FloatConvMicroseconds;
}

/// <summary>
/// Micro-benchmark of the training-time quantizers: forward + backward of each on realistic conv weights
/// (per-channel over the output axis), alone and inside a conv2d training step, against the float conv
/// step. Single-threaded callers only (it times on the calling thread); CPU, whatever libtorch thread count is set.
/// </summary>
public static class QuantizerBench
{
    /// <summary>The quantizer configurations measured, by name.</summary>
    public static IReadOnlyList<(string Name, Func<long[], int, WeightQuantizer> Create)> Quantizers { get; } =
    [
        ("legacy_auto_po2", (s, b) => new LegacyAutoPo2Quantizer(s, b, 0)),
        ("msqe_po2", (s, b) => new MsqePo2Quantizer(s, b, 0)),
        ("msqe_po2+second_moments+stable", (s, b) => new MsqePo2Quantizer(s, b, 0, new MsqePo2QuantizerOptions { SecondMoments = true, StableScale = true })),
        ("learnable_po2(msqe_round)", (s, b) => new LearnablePo2Quantizer(s, b, 0)),
        ("learnable_po2(ceil)", (s, b) => new LearnablePo2Quantizer(s, b, 0, new LearnablePo2QuantizerOptions { Mode = Po2ExponentMode.Ceil })),
        ("lsq", (s, b) => new LsqQuantizer(s, b, 0)),
    ];

    /// <summary>Measures every quantizer on every shape.</summary>
    public static IReadOnlyList<QuantizerBenchResult> Measure(QuantizerBenchOptions? options = null)
    {
        options ??= new QuantizerBenchOptions();
        if (options.Iterations < 1 || options.Warmup < 0 || options.Batch < 1 || options.Spatial < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Iterations, Batch and Spatial must be >= 1 and Warmup >= 0.");
        }

        var results = new List<QuantizerBenchResult>();
        foreach (var shape in options.Shapes)
        {
            if (shape.Length != 4)
            {
                throw new ArgumentException($"Bench shapes are conv weights [out, in, kh, kw], got [{string.Join(", ", shape)}].", nameof(options));
            }

            using var outer = torch.NewDisposeScope();
            var generator = new torch.Generator((ulong)options.Seed);
            var weight = (torch.randn(shape, generator: generator) * 0.05).requires_grad_(true);
            var cotangent = torch.randn(shape, generator: generator);
            var input = torch.randn([options.Batch, shape[1], options.Spatial, options.Spatial], generator: generator);
            long[] padding = [shape[2] / 2, shape[3] / 2];

            var floatConv = Time(options, () =>
            {
                nn.functional.conv2d(input, weight, padding: padding).sum().backward();
                weight.grad!.zero_();
            });

            foreach (var (name, create) in Quantizers)
            {
                using var quantizer = create(shape, options.Bits);
                quantizer.CollectDiagnostics = false;
                var alone = Time(options, () =>
                {
                    (quantizer.forward(weight) * cotangent).sum().backward();
                    weight.grad!.zero_();
                });
                var conv = Time(options, () =>
                {
                    nn.functional.conv2d(input, quantizer.forward(weight), padding: padding).sum().backward();
                    weight.grad!.zero_();
                });
                results.Add(new QuantizerBenchResult(name, (long[])shape.Clone(), options.Bits, alone, floatConv, conv));
            }
        }

        return results;
    }

    /// <summary>Formats results as a plain-text table.</summary>
    public static string Format(IEnumerable<QuantizerBenchResult> results)
    {
        var lines = new List<string>
        {
            $"{"weight",-18} {"quantizer",-32} {"quant µs",10} {"float conv µs",14} {"quant conv µs",14} {"conv ratio",10}",
        };
        lines.AddRange(results.Select(r =>
            $"{"[" + string.Join(",", r.Shape) + "]",-18} {r.Quantizer,-32} {r.QuantizerMicroseconds,10:F0} {r.FloatConvMicroseconds,14:F0} {r.QuantizedConvMicroseconds,14:F0} {r.ConvRatio,10:F2}"));
        return string.Join(Environment.NewLine, lines);
    }

    private static double Time(QuantizerBenchOptions options, Action step)
    {
        for (var i = 0; i < options.Warmup; i++)
        {
            using var scope = torch.NewDisposeScope();
            step();
        }

        var samples = new double[options.Iterations];
        for (var i = 0; i < options.Iterations; i++)
        {
            using var scope = torch.NewDisposeScope();
            var start = Stopwatch.GetTimestamp();
            step();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Array.Sort(samples);
        return samples[samples.Length / 2];
    }
}
