using Sweeper.Core.Scheduling;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Scheduling;

public class AshaSchedulerTests
{
    // grace 1, η = 2, max_t 10: rungs at t = 1, 2, 4, 8.
    private static AshaScheduler Create(ObjectiveMode mode = ObjectiveMode.Max) =>
        new(mode, new AshaOptions { GracePeriod = 1, ReductionFactor = 2, MaxT = 10 });

    [Theory]
    // first trial at a rung continues
    [InlineData("max", "a@1=0.5", "C", 0)]
    [InlineData("max", "a@1=0.5 a@2=0.1", "CC", 1)]
    // top 1/η of the values recorded so far (cutoff: median for η = 2), ties continue
    [InlineData("max", "a@1=0.5 b@1=0.4", "CS", 0)]
    [InlineData("max", "a@1=0.5 b@1=0.6", "CC", 0)]
    [InlineData("max", "a@1=0.5 b@1=0.5", "CC", 0)]
    [InlineData("max", "a@1=0.1 b@1=0.2 c@1=0.3 d@1=0.15", "CCCS", 0)]
    [InlineData("max", "a@1=0.1 b@1=0.2 c@1=0.3 d@1=0.25", "CCCC", 0)]
    // promotion to the next rung, then a stop there
    [InlineData("max", "a@1=0.5 a@2=0.6 b@1=0.7 b@2=0.5", "CCCS", 1)]
    [InlineData("max", "a@1=0.5 a@2=0.6 b@1=0.7 b@2=0.65", "CCCC", 1)]
    // between rungs nothing is judged; a jump past rungs is judged at the highest
    [InlineData("max", "a@2=0.9 b@2=0.95 b@3=0.1", "CCC", 1)]
    [InlineData("max", "a@1=0.9 b@5=0.1", "CC", 2)]
    // max_t stops everyone; the last rung is below it
    [InlineData("max", "a@10=0.99", "S", null)]
    [InlineData("max", "a@9=0.1", "C", 3)]
    [InlineData("max", "a@1=0.9 a@2=0.9 a@4=0.9 a@8=0.9 a@10=0.9", "CCCCS", null)]
    // mode min: lower is better
    [InlineData("min", "a@1=0.5 b@1=0.4", "CC", 0)]
    [InlineData("min", "a@1=0.5 b@1=0.6", "CS", 0)]
    [InlineData("min", "a@1=0.1 b@1=0.2 c@1=0.3 d@1=0.25", "CSSS", 0)]
    // NaN and ±inf never promote, are never recorded, never throw
    [InlineData("max", "a@1=nan", "S", 0)]
    [InlineData("max", "a@1=0.5 b@1=nan", "CS", 0)]
    [InlineData("max", "a@1=0.5 b@1=inf", "CS", 0)]
    [InlineData("max", "a@1=0.5 b@1=-inf", "CS", 0)]
    [InlineData("min", "a@1=0.5 b@1=-inf", "CS", 0)]
    [InlineData("min", "a@1=inf b@1=100", "SC", 0)]
    [InlineData("max", "a@1=nan b@1=0.1 c@1=0.05", "SCS", 0)]
    [InlineData("max", "a@1=0.5 a@2=0.5 a@3=nan", "CCC", 1)]
    // a stopped trial that reports again is stopped again
    [InlineData("max", "a@1=0.5 b@1=0.4 b@2=0.9", "CSS", 0)]
    public void OnResult_Script_ExpectedDecisions(string mode, string script, string expected, int? lastRung)
    {
        var (letters, decisions) = SchedulerScript.Run(Create(mode == "max" ? ObjectiveMode.Max : ObjectiveMode.Min), script);
        Assert.Equal(expected, letters);
        Assert.Equal(lastRung, decisions[^1].Rung);
        Assert.All(decisions, d => Assert.False(string.IsNullOrWhiteSpace(d.Reason)));
    }

    [Theory]
    [InlineData(1, 2, 10, new long[] { 1, 2, 4, 8 })]
    [InlineData(1, 3, 100, new long[] { 1, 3, 9, 27, 81 })]
    [InlineData(1, 4, 100, new long[] { 1, 4, 16, 64 })]
    [InlineData(2, 2, 16, new long[] { 2, 4, 8 })]
    [InlineData(5, 3, 5, new long[0])]
    public void Milestones_Options_GraceTimesEtaPowersBelowMaxT(int grace, int eta, int maxT, long[] expected) =>
        Assert.Equal(expected, new AshaScheduler(ObjectiveMode.Max, new AshaOptions { GracePeriod = grace, ReductionFactor = eta, MaxT = maxT }).Milestones);

    [Fact]
    public void OnResult_RungSkippedByAJump_IsNotRecordedThere()
    {
        var asha = Create();
        SchedulerScript.Run(asha, "a@1=0.5 b@5=0.1 c@1=0.4");
        Assert.Equal(2, asha.RecordedAt(0));
        Assert.Equal(0, asha.RecordedAt(1));
        Assert.Equal(1, asha.RecordedAt(2));
    }

    [Fact]
    public void OnResult_Stop_ReasonNamesTheCutoff()
    {
        var (_, decisions) = SchedulerScript.Run(Create(), "a@1=0.5 b@1=0.25");
        Assert.Equal(new SchedulerDecision(SchedulerAction.Stop, "0.25 is outside the top 1/2 (cutoff 0.5 over 1 other trials)", 0, 1), decisions[1]);
    }

    [Theory]
    [InlineData(0, 2, 10)]
    [InlineData(1, 1, 10)]
    [InlineData(4, 2, 3)]
    public void Constructor_InvalidOptions_Throws(int grace, int eta, int maxT) =>
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new AshaScheduler(ObjectiveMode.Max, new AshaOptions { GracePeriod = grace, ReductionFactor = eta, MaxT = maxT }));

    [Fact]
    public void OnResult_ManyTrialsAtARung_StopsAboutAllButOneInEta()
    {
        var asha = new AshaScheduler(ObjectiveMode.Max, new AshaOptions { GracePeriod = 1, ReductionFactor = 3, MaxT = 100 });
        var random = new Sweeper.Core.Search.SeededRandom(1);
        int continued = 0;
        for (int t = 0; t < 300; t++)
            if (!asha.OnResult(new TrialId(t), 1, random.NextDouble()).IsStop) continued++;
        Assert.InRange(continued, 80, 130);
    }
}
