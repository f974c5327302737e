using Sweeper.Benchmarks.Training;
using TorchSharp;

namespace Sweeper.Benchmarks.Tests.Training;

public sealed class TrainingStepBenchTests
{
    [Fact]
    public void Measure_TinySettings_OneRowPerMethodWithFloatFirst()
    {
        int threads = torch.get_num_threads();
        var options = new TrainingStepBenchOptions { Methods = ["lsq", "msqe_po2"], Width = 0.25, Batch = 4, Warmup = 1, Rounds = 3 };

        var rows = TrainingStepBench.Measure(options);

        Assert.Equal(["none", "lsq", "msqe_po2"], rows.Select(r => r.Method));
        Assert.All(rows, r => Assert.Equal(3, r.SamplesMilliseconds.Count));
        Assert.All(rows, r => Assert.True(r.MedianMilliseconds > 0 && double.IsFinite(r.RatioToFloat)));
        Assert.All(rows, r => Assert.True(r.MedianCpuMilliseconds >= 0 && double.IsFinite(r.CpuRatioToFloat)));
        Assert.Equal(1.0, rows[0].RatioToFloat);
        // The per-round ratios: this method's sample over float's of the same round; their median is the ratio, inside their middle half.
        Assert.All(rows, r => Assert.Equal(r.SamplesMilliseconds.Select((t, i) => t / rows[0].SamplesMilliseconds[i]), r.RatiosToFloat));
        Assert.All(rows, r => Assert.Equal(BenchStatistics.Median(r.RatiosToFloat), r.RatioToFloat));
        Assert.All(rows, r => Assert.InRange(r.RatioToFloat, r.RatioQuartiles.Lower, r.RatioQuartiles.Upper));
        Assert.Equal(threads, torch.get_num_threads()); // restored
    }

    [Fact]
    public void Measure_OneMethod_ReturnsItsRow()
    {
        var row = TrainingStepBench.Measure("learnable_po2", new TrainingStepBenchOptions { Width = 0.25, Batch = 2, Warmup = 0, Rounds = 1 });

        Assert.Equal("learnable_po2", row.Method);
        Assert.Single(row.SamplesMilliseconds);
    }
}
