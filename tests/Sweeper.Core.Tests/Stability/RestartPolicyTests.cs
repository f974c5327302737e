using Sweeper.Core.Stability;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Stability;

public class RestartPolicyTests
{
    private static readonly ChangeSet HalveLr = ChangeSet.Parse(("trainable.optimizer.lr", "*0.5"));

    private static StabilityRule Rule(string name) => name switch
    {
        "continue" => StabilityRule.Continue,
        "stop" => StabilityRule.Stop,
        "restart" => StabilityRule.Restart(HalveLr),                                   // last_healthy, 3
        "restart-start-2" => StabilityRule.Restart(HalveLr, RestartFrom.Start, maxRestarts: 2),
        "restart-once" => StabilityRule.Restart(HalveLr, maxRestarts: 1),
        "restart-latest" => StabilityRule.Restart(HalveLr, RestartFrom.Latest),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static StabilityPolicy PolicyWith(StabilityKind kind, StabilityRule rule) => kind switch
    {
        StabilityKind.Oscillating => new StabilityPolicy { Oscillating = rule },
        StabilityKind.Drifting => new StabilityPolicy { Drifting = rule },
        _ => new StabilityPolicy { Diverged = rule },
    };

    private static StabilityVerdict Verdict(StabilityKind kind, long step = 1200) =>
        kind == StabilityKind.Healthy
            ? StabilityVerdict.Healthy(step)
            : StabilityVerdict.Unhealthy(kind, new StabilityEvidence(StabilitySignal.LossSpike, step, null, null, 100, 50, 20, 2, [], "loss 50 spiked"));

    [Theory]
    [InlineData(StabilityKind.Diverged, "continue", 0, true, "C", null, 0)]
    [InlineData(StabilityKind.Diverged, "stop", 0, true, "S", null, 0)]
    [InlineData(StabilityKind.Diverged, "restart", 0, true, "R", RestartFrom.LastHealthy, 1)]
    [InlineData(StabilityKind.Diverged, "restart", 2, true, "R", RestartFrom.LastHealthy, 3)]
    [InlineData(StabilityKind.Diverged, "restart", 3, true, "S", null, 0)]            // max_restarts 3 reached
    [InlineData(StabilityKind.Diverged, "restart", 0, false, "R", RestartFrom.Start, 1)] // no healthy checkpoint: the start
    [InlineData(StabilityKind.Diverged, "restart-start-2", 1, true, "R", RestartFrom.Start, 2)]
    [InlineData(StabilityKind.Diverged, "restart-start-2", 2, true, "S", null, 0)]
    [InlineData(StabilityKind.Diverged, "restart-once", 1, true, "S", null, 0)]
    [InlineData(StabilityKind.Oscillating, "continue", 0, true, "C", null, 0)]
    [InlineData(StabilityKind.Oscillating, "stop", 5, true, "S", null, 0)]
    [InlineData(StabilityKind.Oscillating, "restart", 1, true, "R", RestartFrom.LastHealthy, 2)]
    [InlineData(StabilityKind.Oscillating, "restart", 3, false, "S", null, 0)]
    [InlineData(StabilityKind.Drifting, "restart", 0, true, "R", RestartFrom.LastHealthy, 1)]
    [InlineData(StabilityKind.Drifting, "restart-start-2", 0, false, "R", RestartFrom.Start, 1)]
    [InlineData(StabilityKind.Drifting, "stop", 0, true, "S", null, 0)]
    [InlineData(StabilityKind.Oscillating, "restart-latest", 0, false, "R", RestartFrom.Latest, 1)] // healthy or not: the newest
    public void Decide_RuleAndRestartsSoFar_Action(StabilityKind kind, string rule, int restartsSoFar, bool hasHealthy, string expected, RestartFrom? from, int restart)
    {
        var action = new RestartPolicy(PolicyWith(kind, Rule(rule))).Decide(Verdict(kind), restartsSoFar, hasHealthy);
        Assert.Equal(expected, action.Action switch { StabilityActionKind.Continue => "C", StabilityActionKind.Stop => "S", _ => "R" });
        Assert.Equal(from, action.From);
        Assert.Equal(restart, action.Restart);
        Assert.Equal(kind, action.Verdict);
        if (action.IsRestart)
        {
            Assert.Same(HalveLr, action.Changes);
            Assert.Equal(restartsSoFar + 2, action.Attempt);
            Assert.Equal(restartsSoFar + 1, action.History.Count(kind));
        }
        else
        {
            Assert.Empty(action.Changes);
            Assert.Equal(restartsSoFar, action.History.Count(kind));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void Decide_Healthy_AlwaysContinues(int restartsSoFar)
    {
        var policy = new RestartPolicy(new StabilityPolicy { Oscillating = Rule("restart"), Drifting = Rule("stop"), Diverged = Rule("restart") });
        var action = policy.Decide(Verdict(StabilityKind.Healthy), restartsSoFar);
        Assert.True(action.IsContinue);
        Assert.Equal("healthy", action.Reason);
    }

    [Theory]
    [InlineData("continue", 0, true, "diverged at step 1200: loss 50 spiked (policy: continue)")]
    [InlineData("stop", 0, true, "diverged at step 1200: loss 50 spiked (policy: stop)")]
    [InlineData("restart", 0, true, "diverged at step 1200: loss 50 spiked (policy: restart 1 of 3 for diverged from the last healthy checkpoint with trainable.optimizer.lr: *0.5)")]
    [InlineData("restart", 1, false, "diverged at step 1200: loss 50 spiked (policy: restart 2 of 3 for diverged from the start (no healthy checkpoint) with trainable.optimizer.lr: *0.5)")]
    [InlineData("restart-start-2", 0, true, "diverged at step 1200: loss 50 spiked (policy: restart 1 of 2 for diverged from the start with trainable.optimizer.lr: *0.5)")]
    [InlineData("restart", 3, true, "diverged at step 1200: loss 50 spiked (policy: restart, but max_restarts 3 for diverged is reached)")]
    [InlineData("restart-latest", 0, false, "diverged at step 1200: loss 50 spiked (policy: restart 1 of 3 for diverged from the newest checkpoint with trainable.optimizer.lr: *0.5)")]
    public void Decide_Reason_NamesRuleAndEvidence(string rule, int restartsSoFar, bool hasHealthy, string reason) =>
        Assert.Equal(reason, new RestartPolicy(PolicyWith(StabilityKind.Diverged, Rule(rule))).Decide(Verdict(StabilityKind.Diverged), restartsSoFar, hasHealthy).Reason);

    [Fact]
    public void Decide_LatestWithoutAnyCheckpoint_FromTheStartSayingSo()
    {
        var action = new RestartPolicy(PolicyWith(StabilityKind.Oscillating, Rule("restart-latest"))).Decide(Verdict(StabilityKind.Oscillating), 0, hasHealthyCheckpoint: false, hasCheckpoint: false);
        Assert.Equal(RestartFrom.Start, action.From);
        Assert.Contains("from the start (no checkpoint yet)", action.Reason);
    }

    [Fact]
    public void Decide_History_CountsRestartsPerKind()
    {
        var policy = new RestartPolicy(new StabilityPolicy { Oscillating = Rule("restart"), Diverged = Rule("restart-once") });
        var history = RestartHistory.Empty.After(StabilityKind.Oscillating).After(StabilityKind.Oscillating);

        var diverged = policy.Decide(Verdict(StabilityKind.Diverged), history);
        Assert.Equal((StabilityActionKind.Restart, 1, 4), (diverged.Action, diverged.Restart, diverged.Attempt));
        Assert.Equal(new[] { StabilityKind.Oscillating, StabilityKind.Oscillating, StabilityKind.Diverged }, diverged.History.Kinds.ToArray());

        var again = policy.Decide(Verdict(StabilityKind.Diverged), diverged.History);
        Assert.True(again.IsStop);
        Assert.Equal(diverged.History, again.History);

        var oscillating = policy.Decide(Verdict(StabilityKind.Oscillating), diverged.History);
        Assert.Equal((StabilityActionKind.Restart, 3, 5), (oscillating.Action, oscillating.Restart, oscillating.Attempt));
    }

    // ---- backoff ----

    [Theory]
    [InlineData(BackoffType.Constant, 30, null, 1, 30)]
    [InlineData(BackoffType.Constant, 30, null, 5, 30)]
    [InlineData(BackoffType.Linear, 10, null, 1, 10)]
    [InlineData(BackoffType.Linear, 10, null, 3, 30)]
    [InlineData(BackoffType.Linear, 10, 25, 3, 25)]
    [InlineData(BackoffType.Exponential, 10, null, 1, 10)]
    [InlineData(BackoffType.Exponential, 10, null, 2, 20)]
    [InlineData(BackoffType.Exponential, 10, null, 4, 80)]
    [InlineData(BackoffType.Exponential, 10, 60, 4, 60)]
    [InlineData(BackoffType.Exponential, 1, null, 100, 86_400)]   // capped at one day, no overflow
    [InlineData(BackoffType.Exponential, 0, null, 3, 0)]
    public void DelayFor_TypeDelayMaxAndRestart_Seconds(BackoffType type, int delay, int? max, int restart, int expected)
    {
        var backoff = new RestartBackoff { Type = type, Delay = TimeSpan.FromSeconds(delay), MaxDelay = max is { } m ? TimeSpan.FromSeconds(m) : null };
        Assert.Equal(TimeSpan.FromSeconds(expected), backoff.DelayFor(restart));
    }

    [Fact]
    public void DelayFor_RestartZero_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RestartBackoff.None.DelayFor(0));

    [Fact]
    public void Decide_Backoff_DelayForThisKindsRestartNumber()
    {
        var rule = StabilityRule.Restart(HalveLr, backoff: new RestartBackoff { Type = BackoffType.Exponential, Delay = TimeSpan.FromSeconds(10) });
        var action = new RestartPolicy(new StabilityPolicy { Diverged = rule }).Decide(Verdict(StabilityKind.Diverged), restartsSoFar: 2);
        Assert.Equal(TimeSpan.FromSeconds(40), action.Delay);
        Assert.EndsWith("with trainable.optimizer.lr: *0.5 after 40s)", action.Reason);
    }

    // ---- parameters after restarts ----

    [Theory]
    [InlineData("", double.NaN)]
    [InlineData("diverged", 0.05)]
    [InlineData("diverged diverged", 0.025)]
    [InlineData("diverged diverged diverged", 0.0125)]
    public void ParametersFor_DivergedRestarts_LearningRateHalvedEachTime(string kinds, double lr)
    {
        var policy = new RestartPolicy(); // the default diverged rule halves the learning rate
        var history = RestartHistory.Of(kinds.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(k => Enum.Parse<StabilityKind>(k, ignoreCase: true)));
        var values = policy.ParametersFor(history, [new("trainable.optimizer.lr", 0.1), new("trainable.epochs", 10L)]);
        if (history.Total == 0) Assert.Empty(values); // no restart: nothing changed
        else Assert.Equal(new[] { new KeyValuePair<string, object?>("trainable.optimizer.lr", lr) }, values);
    }

    [Theory]
    // oscillating adds 1 to x, diverged doubles it: changes compose in the order the restarts happened
    [InlineData("oscillating diverged", 4L)]
    [InlineData("diverged oscillating", 3L)]
    [InlineData("oscillating oscillating diverged", 6L)]
    public void ParametersFor_TwoKinds_ComposeInTimeOrder(string kinds, long x)
    {
        var policy = new RestartPolicy(new StabilityPolicy
        {
            Oscillating = StabilityRule.Restart(ChangeSet.Parse(("x", "+1"))),
            Diverged = StabilityRule.Restart(ChangeSet.Parse(("x", "*2"))),
        });
        var history = RestartHistory.Of(kinds.Split(' ').Select(k => Enum.Parse<StabilityKind>(k, ignoreCase: true)));
        Assert.Equal(new[] { new KeyValuePair<string, object?>("x", x) }, policy.ParametersFor(history, [new("x", 1L)]));
    }

    [Fact]
    public void ParametersFor_ChangeDoesNotFit_ErrorNamesKindAndRestart()
    {
        var policy = new RestartPolicy(new StabilityPolicy { Diverged = StabilityRule.Restart(ChangeSet.Parse(("trainable.batch_size", "*0.5"))) });
        var history = RestartHistory.Of([StabilityKind.Diverged, StabilityKind.Diverged, StabilityKind.Diverged]);
        var ex = Assert.Throws<ArgumentException>(() => policy.ParametersFor(history, [new("trainable.batch_size", 100L)]));
        Assert.StartsWith("diverged: trainable.batch_size: '*0.5' at restart 3 turns the integer 25 into 12.5, which is not an integer", ex.Message);
    }

    [Fact]
    public void Check_RulesAgainstOriginals_ReportsRulesThatDoNotFit()
    {
        var policy = new RestartPolicy(new StabilityPolicy
        {
            Oscillating = StabilityRule.Restart(ChangeSet.Parse(("trainable.quantizer.stable_scale", "*2"))),
            Drifting = StabilityRule.Stop,
            Diverged = StabilityRule.Restart(ChangeSet.Parse(("trainable.batch_size", "*0.5")), maxRestarts: 3),
        });
        ParameterLookup originals = (string key, out object? value) =>
        {
            value = key switch { "trainable.quantizer.stable_scale" => false, "trainable.batch_size" => 100L, _ => null };
            return value is not null;
        };
        Assert.Equal(
            [
                new StabilityConfigError("oscillating.changes", "trainable.quantizer.stable_scale: '*2' multiplies a number, but the value is the boolean false"),
                new StabilityConfigError("diverged.changes", "trainable.batch_size: '*0.5' at restart 3 turns the integer 25 into 12.5, which is not an integer"),
            ],
            policy.Check(originals));
    }

    // ---- policy settings ----

    [Fact]
    public void Defaults_DivergedHalvesLrThreeTimes_OthersContinue()
    {
        var policy = new StabilityPolicy();
        Assert.Equal(StabilityActionKind.Continue, policy.Oscillating.Action);
        Assert.Equal(StabilityActionKind.Continue, policy.Drifting.Action);
        Assert.Equal("restart from last_healthy with trainable.optimizer.lr: *0.5, at most 3 times, no wait", policy.Diverged.ToString());
        Assert.Empty(policy.Validate());
    }

    public static TheoryData<StabilityPolicy, string, string> InvalidPolicies => new()
    {
        { new StabilityPolicy { Diverged = StabilityRule.Restart(HalveLr, maxRestarts: 0) }, "diverged.max_restarts", "must be between 1 and 100, found 0 (to never restart, use action: stop)" },
        { new StabilityPolicy { Diverged = StabilityRule.Restart(HalveLr, maxRestarts: 101) }, "diverged.max_restarts", "must be between 1 and 100, found 101 (to never restart, use action: stop)" },
        { new StabilityPolicy { Oscillating = StabilityRule.Stop with { Changes = HalveLr } }, "oscillating.changes", "apply only when action is restart; action is stop" },
        { new StabilityPolicy { Drifting = StabilityRule.Restart(HalveLr, backoff: new RestartBackoff { Delay = TimeSpan.FromSeconds(-1) }) }, "drifting.backoff.delay", "must be between 0 and 24h, found -1s" },
        { new StabilityPolicy { Drifting = StabilityRule.Restart(HalveLr, backoff: new RestartBackoff { Delay = TimeSpan.FromSeconds(10), MaxDelay = TimeSpan.FromSeconds(5) }) }, "drifting.backoff.max_delay", "must be between delay (10s) and 24h, found 5s" },
    };

    [Theory]
    [MemberData(nameof(InvalidPolicies))]
    public void Validate_BadRule_ErrorWithKeyPath(StabilityPolicy policy, string path, string message)
    {
        Assert.Equal([new StabilityConfigError(path, message)], policy.Validate());
        Assert.Throws<ArgumentException>(() => new RestartPolicy(policy));
    }

    [Fact]
    public void RestartHistory_HealthyKind_Throws()
    {
        Assert.Throws<ArgumentException>(() => RestartHistory.Empty.After(StabilityKind.Healthy));
        Assert.Throws<ArgumentException>(() => RestartHistory.Of([StabilityKind.Healthy]));
    }
}
