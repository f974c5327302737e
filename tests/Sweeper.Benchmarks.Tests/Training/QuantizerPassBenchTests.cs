using Sweeper.Benchmarks.Training;
using Sweeper.Training.Models;
using TorchSharp;

namespace Sweeper.Benchmarks.Tests.Training;

public sealed class QuantizerPassBenchTests
{
    // The times are printed by `sweeper bench quantizers`; no test asserts a duration.
    [Fact]
    public void Measure_TinyModel_OneRowPerQuantizedMethod_EveryQuantizedLayerCounted()
    {
        int threads = torch.get_num_threads();
        var options = new TrainingStepBenchOptions
        {
            Methods = ["none", "msqe_po2", "lsq", "learnable_po2", "legacy_auto_po2"], Model = ModelFactory.MobileNetV1Name, Width = 0.25, Batch = 4, Rounds = 2, Warmup = 1,
        };

        var rows = QuantizerPassBench.Measure(options);

        Assert.Equal(["msqe_po2", "lsq", "learnable_po2", "legacy_auto_po2"], rows.Select(r => r.Method));
        // MobileNetV1: a stem and 13 depthwise-separable blocks (26 convolutions) and a classifier; the stem and the
        // classifier stay in float.
        Assert.All(rows, r => Assert.Equal(26, r.Layers));
        Assert.Equal(threads, torch.get_num_threads()); // restored
    }
}
