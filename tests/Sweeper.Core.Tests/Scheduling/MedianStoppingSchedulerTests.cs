using Sweeper.Core.Scheduling;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Scheduling;

public class MedianStoppingSchedulerTests
{
    private static MedianStoppingScheduler Create(ObjectiveMode mode = ObjectiveMode.Max, int minSamples = 2) =>
        new(mode, new MedianStoppingOptions { GracePeriod = 1, MinSamplesRequired = minSamples });

    private const string AB = "a@1=0.5 a@2=0.6 b@1=0.4 b@2=0.4 "; // running averages over [1, 2]: a 0.55, b 0.4

    [Theory]
    // grace period and too few other trials: never judged
    [InlineData("max", 2, "a@1=0.5", "C")]
    [InlineData("max", 2, "a@1=0.5 a@2=0.1 a@3=0.0", "CCC")]
    [InlineData("max", 3, AB + "c@1=0.1 c@2=0.1", "CCCCCC")]
    // best so far below the median of the others' running averages (0.475): stop
    [InlineData("max", 2, AB + "c@1=0.1 c@2=0.1", "CCCCCS")]
    [InlineData("max", 2, AB + "c@1=0.1 c@2=0.47", "CCCCCS")]
    [InlineData("max", 2, AB + "c@1=0.5 c@2=0.5", "CCCCCC")]
    // the trial's best result counts, not its latest
    [InlineData("max", 2, AB + "c@1=0.9 c@2=0.1", "CCCCCC")]
    // mode min
    [InlineData("min", 2, AB + "c@1=0.1 c@2=0.1", "CCCCCC")]
    [InlineData("min", 2, AB + "c@1=0.9 c@2=0.9", "CCCCCS")]
    // NaN/inf: not judged in the grace period; stopped when judged; worst in others' averages
    [InlineData("max", 2, AB + "c@1=nan c@2=0.5", "CCCCCC")]
    [InlineData("max", 2, AB + "c@1=0.9 c@2=nan", "CCCCCS")]
    [InlineData("max", 2, AB + "c@1=0.9 c@2=inf", "CCCCCS")]
    [InlineData("min", 2, AB + "c@1=0.1 c@2=-inf", "CCCCCS")]
    [InlineData("max", 2, "a@1=nan a@2=0.6 b@1=0.4 b@2=0.4 c@1=0.3 c@2=0.3", "CCCCCC")]
    [InlineData("max", 2, "a@1=nan a@2=nan b@1=nan b@2=nan c@1=0.3 c@2=0.3", "CCCCCC")]
    // a stopped trial stays stopped
    [InlineData("max", 2, AB + "c@1=0.1 c@2=0.1 c@3=0.9", "CCCCCSS")]
    public void OnResult_Script_ExpectedDecisions(string mode, int minSamples, string script, string expected) =>
        Assert.Equal(expected, SchedulerScript.Run(Create(mode == "max" ? ObjectiveMode.Max : ObjectiveMode.Min, minSamples), script).Letters);

    [Fact]
    public void OnResult_Stop_ReasonNamesBestAndMedian()
    {
        var (_, decisions) = SchedulerScript.Run(Create(), AB + "c@1=0.1 c@2=0.1");
        Assert.Equal("best 0.1 vs median running average 0.475 of 2 other trials at iteration 2", decisions[^1].Reason);
    }

    [Theory]
    // c's iteration-3 result (0.9) is discarded when it restarts from its iteration-1 checkpoint;
    // its best is then 0.1, below the median 0.475. Keeping 0.9 would let it continue.
    [InlineData(AB + "a@3=0.6 b@3=0.4 c@1=0.1 c@2=0.5 c@3=0.9 c@2=0.1", "CCCCCCCCCS")]
    [InlineData(AB + "a@3=0.6 b@3=0.4 c@1=0.1 c@2=0.5 c@3=0.9 c@2=0.5", "CCCCCCCCCC")]
    public void OnResult_RestartFromCheckpoint_DiscardsTheLaterResults(string script, string expected) =>
        Assert.Equal(expected, SchedulerScript.Run(Create(), script).Letters);

    [Fact]
    public void OnResult_OtherTrialsNotYetAtTheIteration_DoNotCount()
    {
        var median = Create();
        SchedulerScript.Run(median, "a@1=0.9 b@1=0.9 c@1=0.1");
        var decision = median.OnResult(new TrialId(2), 2, 0.1);
        Assert.False(decision.IsStop);
        Assert.Equal("0 other trials reached iteration 2; 2 needed", decision.Reason);
    }
}
