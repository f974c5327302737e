using Sweeper.Benchmarks.Stability;
using Xunit.Abstractions;

namespace Sweeper.Benchmarks.Tests.Stability;

public class StabilityBenchmarkTests
{
    private readonly ITestOutputHelper _output;

    public StabilityBenchmarkTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Run_ThirtyLayersSixtyFourChannels_EveryStepJudgedHealthy()
    {
        // Speed and allocations are figures of `sweeper bench stability`, not assertions here.
        var result = StabilityBenchmark.Run(layers: 30, channels: 64, steps: 10_000);
        _output.WriteLine(result.ToString());

        Assert.Equal(0, result.UnhealthySteps);
    }

    [Fact]
    public void Run_FloatModel_StillMeasures()
    {
        var result = StabilityBenchmark.Run(layers: 0, channels: 0, steps: 1_000);
        Assert.Equal(0, result.UnhealthySteps);
    }
}
