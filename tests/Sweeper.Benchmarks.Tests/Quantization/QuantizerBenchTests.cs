using Sweeper.Benchmarks.Quantization;

namespace Sweeper.Benchmarks.Tests.Quantization;

public sealed class QuantizerBenchTests
{
    [Fact]
    public void Measure_TinySettings_ReturnsOneRowPerQuantizerAndShape()
    {
        var results = QuantizerBench.Measure(new QuantizerBenchOptions
        {
            Shapes = [[8, 4, 3, 3], [16, 8, 1, 1]],
            Iterations = 2,
            Warmup = 1,
            Batch = 1,
            Spatial = 4,
        });

        Assert.Equal(2 * QuantizerBench.Quantizers.Count, results.Count);
        Assert.All(results, r => Assert.True(r.QuantizerMicroseconds > 0 && r.FloatConvMicroseconds > 0 && r.QuantizedConvMicroseconds > 0));
        Assert.Contains("msqe_po2", QuantizerBench.Format(results));
    }
}
