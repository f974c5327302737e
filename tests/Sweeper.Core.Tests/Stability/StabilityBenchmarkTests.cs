using Sweeper.Core.Stability;
using Xunit.Abstractions;

namespace Sweeper.Core.Tests.Stability;

public class StabilityBenchmarkTests
{
    private readonly ITestOutputHelper _output;

    public StabilityBenchmarkTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Run_ThirtyLayersSixtyFourChannels_HealthyNoAllocationAndCheap()
    {
        var result = StabilityBenchmark.Run(layers: 30, channels: 64, steps: 10_000);
        _output.WriteLine(result.ToString());

        Assert.Equal(0, result.UnhealthySteps);
        Assert.Equal(0, result.AllocatedBytes);
        Assert.InRange(result.MicrosecondsPerStep, 0.01, 10_000); // only a gross regression: the machine is shared and tests run in Debug; the figure is in the output
    }

    [Fact]
    public void Run_FloatModel_StillMeasures()
    {
        var result = StabilityBenchmark.Run(layers: 0, channels: 0, steps: 1_000);
        Assert.Equal((0, 0), (result.UnhealthySteps, result.AllocatedBytes));
    }
}
