using Sweeper.Core.Scheduling;

namespace Sweeper.Core.Tests.Scheduling;

public class FifoSchedulerTests
{
    [Theory]
    [InlineData("a@1=0.5", "C")]
    [InlineData("a@1=0.5 b@1=0.1 c@1=0.0", "CCC")]
    [InlineData("a@1=nan a@2=inf a@3=-inf", "CCC")]
    [InlineData("a@1000000=-1e300 b@0=1", "CC")]
    public void OnResult_AnyResults_AlwaysContinues(string script, string expected) =>
        Assert.Equal(expected, SchedulerScript.Run(new FifoScheduler(), script).Letters);
}
