using Sweeper.Core.Stability;

namespace Sweeper.Core.Tests.Stability;

public class StabilityParsingTests
{
    /// <summary>A YAML mapping as a loader gives it: ordered entries.</summary>
    private static List<KeyValuePair<string, object?>> M(params (string Key, object? Value)[] entries) =>
        entries.Select(e => new KeyValuePair<string, object?>(e.Key, e.Value)).ToList();

    private static List<object?> L(params object?[] items) => [.. items];

    // ---- scalars ----

    [Theory]
    [InlineData("restart", StabilityActionKind.Restart)]
    [InlineData("stop", StabilityActionKind.Stop)]
    [InlineData("continue", StabilityActionKind.Continue)]
    public void TryParseAction_Word_Action(string word, StabilityActionKind expected)
    {
        Assert.True(StabilityParsing.TryParseAction(word, out var action, out _));
        Assert.Equal(expected, action);
        Assert.Equal(word, StabilityParsing.Word(action));
    }

    public static TheoryData<object?, string> BadActions => new()
    {
        { "Restart", "expected one of restart, stop, continue; found 'Restart'" },
        { "retry", "expected one of restart, stop, continue; found 'retry'" },
        { null, "expected one of restart, stop, continue; found nothing (null)" },
        { 3L, "expected one of restart, stop, continue; found the integer 3" },
        { true, "expected one of restart, stop, continue; found the boolean true" },
    };

    [Theory]
    [MemberData(nameof(BadActions))]
    public void TryParseAction_BadValue_Message(object? value, string message)
    {
        Assert.False(StabilityParsing.TryParseAction(value, out _, out var error));
        Assert.Equal(message, error);
    }

    [Theory]
    [InlineData("last_healthy", RestartFrom.LastHealthy, null)]
    [InlineData("start", RestartFrom.Start, null)]
    [InlineData("last-healthy", RestartFrom.LastHealthy, "expected one of last_healthy, latest, start; found 'last-healthy'")]
    public void TryParseFrom_Word_FromOrMessage(string word, RestartFrom expected, string? message)
    {
        bool ok = StabilityParsing.TryParseFrom(word, out var from, out var error);
        Assert.Equal(message is null, ok);
        Assert.Equal(message, error);
        if (ok) Assert.Equal(expected, from);
    }

    [Theory]
    [InlineData("constant", BackoffType.Constant)]
    [InlineData("linear", BackoffType.Linear)]
    [InlineData("exponential", BackoffType.Exponential)]
    public void TryParseBackoffType_Word_Type(string word, BackoffType expected)
    {
        Assert.True(StabilityParsing.TryParseBackoffType(word, out var type, out _));
        Assert.Equal(expected, type);
    }

    public static TheoryData<object?, double> Durations => new()
    {
        { 30L, 30 },
        { 1.5, 1.5 },
        { 0L, 0 },
        { "30s", 30 },
        { "500ms", 0.5 },
        { "5m", 300 },
        { "1.5m", 90 },
        { "2h", 7200 },
        { "24h", 86_400 },
        { "10", 10 },
        { " 10 s ", 10 },
    };

    [Theory]
    [MemberData(nameof(Durations))]
    public void TryParseDuration_Value_Seconds(object? value, double seconds)
    {
        Assert.True(StabilityParsing.TryParseDuration(value, out var duration, out var error), error);
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
    }

    public static TheoryData<object?, string> BadDurations => new()
    {
        { "soon", "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found 'soon'" },
        { "s", "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found 's'" },
        { "10 days", "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found '10 days'" },
        { true, "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found the boolean true" },
        { null, "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found nothing (null)" },
        { "-5s", "must not be negative, found '-5s'" },
        { -1L, "must not be negative, found the integer -1" },
        { "25h", "must be at most 24h, found '25h'" },
    };

    [Theory]
    [MemberData(nameof(BadDurations))]
    public void TryParseDuration_BadValue_Message(object? value, string message)
    {
        Assert.False(StabilityParsing.TryParseDuration(value, out _, out var error));
        Assert.Equal(message, error);
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(0.5, "500ms")]
    [InlineData(1.5, "1.5s")]
    [InlineData(30, "30s")]
    [InlineData(90, "90s")]          // not a whole number of minutes
    [InlineData(300, "5m")]
    [InlineData(7200, "2h")]
    [InlineData(86_400, "24h")]
    public void FormatDuration_Seconds_ShortestExactForm(double seconds, string expected)
    {
        Assert.Equal(expected, StabilityParsing.FormatDuration(TimeSpan.FromSeconds(seconds)));
        Assert.True(StabilityParsing.TryParseDuration(expected, out var back, out _));
        Assert.Equal(TimeSpan.FromSeconds(seconds), back);
    }

    public static TheoryData<object?, int?, string?> MaxRestarts => new()
    {
        { 3L, 3, null },
        { 1L, 1, null },
        { 100L, 100, null },
        { 0L, null, "must be between 1 and 100, found 0 (to never restart, use action: stop)" },
        { 101L, null, "must be between 1 and 100, found 101 (to never restart, use action: stop)" },
        { 2.5, null, "expected an integer, found the number 2.5" },
        { "3", null, "expected an integer, found '3'" },
    };

    [Theory]
    [MemberData(nameof(MaxRestarts))]
    public void TryParseMaxRestarts_Value_CountOrMessage(object? value, int? expected, string? message)
    {
        bool ok = StabilityParsing.TryParseMaxRestarts(value, out int n, out var error);
        Assert.Equal(message, error);
        Assert.Equal(expected, ok ? n : null);
    }

    // ---- sections ----

    [Fact]
    public void ReadPolicy_FullExample_EveryField()
    {
        var errors = new List<StabilityConfigError>();
        var policy = StabilityParsing.ReadPolicy(M(
            ("oscillating", M(
                ("action", "restart"),
                ("changes", L(M(("trainable.quantizer.stable_scale", true)))),
                ("max_restarts", 1L))),
            ("diverged", M(
                ("action", "restart"),
                ("from", "start"),
                ("changes", L(M(("trainable.optimizer.lr", "*0.5")), M(("trainable.quantizer.bits", "+1")))),
                ("max_restarts", 2L),
                ("backoff", M(("type", "exponential"), ("delay", "30s"), ("max_delay", "10m")))))), errors);

        Assert.Empty(errors);
        Assert.Equal(StabilityRule.Restart(ChangeSet.Parse(("trainable.quantizer.stable_scale", true)), maxRestarts: 1), policy.Oscillating);
        Assert.Equal(StabilityRule.Continue, policy.Drifting); // not given: the default
        Assert.Equal(
            StabilityRule.Restart(ChangeSet.Parse(("trainable.optimizer.lr", "*0.5"), ("trainable.quantizer.bits", "+1")), RestartFrom.Start, 2,
                new RestartBackoff { Type = BackoffType.Exponential, Delay = TimeSpan.FromSeconds(30), MaxDelay = TimeSpan.FromMinutes(10) }),
            policy.Diverged);
    }

    [Fact]
    public void ReadRule_ChangesAsOneMappingAndBackoffAsDuration_Accepted()
    {
        var errors = new List<StabilityConfigError>();
        var rule = StabilityParsing.ReadRule(M(
            ("action", "restart"),
            ("changes", M(("trainable.optimizer.lr", "*0.5"), ("trainable.optimizer.momentum", 0.8))),
            ("backoff", "1m")), errors);
        Assert.Empty(errors);
        Assert.Equal(StabilityRule.Restart(ChangeSet.Parse(("trainable.optimizer.lr", "*0.5"), ("trainable.optimizer.momentum", 0.8)),
            backoff: new RestartBackoff { Delay = TimeSpan.FromMinutes(1) }), rule);
    }

    public static TheoryData<List<KeyValuePair<string, object?>>, string, string> BadPolicies => new()
    {
        { M(("diverged", M(("from", "start")))), "diverged", "'action' is required: one of restart, stop, continue" },
        { M(("diverged", M(("action", "retry")))), "diverged.action", "expected one of restart, stop, continue; found 'retry'" },
        { M(("diverged", M(("action", "stop"), ("changes", L(M(("lr", "*0.5"))))))), "diverged.changes", "applies only when action is restart; action is stop" },
        { M(("drifting", M(("action", "continue"), ("max_restarts", 2L)))), "drifting.max_restarts", "applies only when action is restart; action is continue" },
        { M(("diverged", M(("action", "restart"), ("max_restarts", 0L)))), "diverged.max_restarts", "must be between 1 and 100, found 0 (to never restart, use action: stop)" },
        { M(("diverged", M(("action", "restart"), ("changes", L(M(("lr", "*0.5")), M(("lr", "*x"))))))), "diverged.changes[1]", "lr: '*x': expected a finite unsigned number after '*', as in '*0.5'" },
        { M(("diverged", M(("action", "restart"), ("changes", L("lr"))))), "diverged.changes[0]", "expected one 'key: change' entry, such as trainable.optimizer.lr: \"*0.5\"; found 'lr'" },
        { M(("diverged", M(("action", "restart"), ("changes", L(M(("a", 1L), ("b", 2L))))))), "diverged.changes[0]", "expected one 'key: change' entry, such as trainable.optimizer.lr: \"*0.5\"; found a mapping" },
        { M(("diverged", M(("action", "restart"), ("changes", "lr")))), "diverged.changes", "expected a list of 'key: change' entries, such as - trainable.optimizer.lr: \"*0.5\"; found 'lr'" },
        { M(("diverged", M(("action", "restart"), ("backoff", M(("type", "quadratic")))))), "diverged.backoff.type", "expected one of constant, linear, exponential; found 'quadratic'" },
        { M(("diverged", M(("action", "restart"), ("backoff", M(("delay", "10s"), ("max_delay", "5s")))))), "diverged.backoff.max_delay", "must be between delay (10s) and 24h, found 5s" },
        { M(("diverged", M(("action", "restart"), ("backoff", M(("jitter", true)))))), "diverged.backoff.jitter", "unknown key; expected one of type, delay, max_delay" },
        { M(("diverged", M(("action", "restart"), ("backoff", "soon")))), "diverged.backoff", "expected a duration (such as 30s) or a mapping of type, delay and max_delay; found 'soon'" },
        { M(("diverged", M(("action", "restart"), ("backoff", "48h")))), "diverged.backoff", "must be at most 24h, found '48h'" },
        { M(("diverged", M(("action", "restart"), ("retries", 3L)))), "diverged.retries", "unknown key; expected one of action, from, changes, max_restarts, backoff" },
        { M(("exploding", M(("action", "stop")))), "exploding", "unknown key; expected one of oscillating, drifting, diverged" },
        { M(("diverged", "restart")), "diverged", "expected a mapping with at least 'action', found 'restart'" },
    };

    [Theory]
    [MemberData(nameof(BadPolicies))]
    public void ReadPolicy_BadEntry_OneErrorWithKeyPath(List<KeyValuePair<string, object?>> entries, string path, string message)
    {
        var errors = new List<StabilityConfigError>();
        var policy = StabilityParsing.ReadPolicy(entries, errors, "stability");
        Assert.Equal([new StabilityConfigError("stability." + path, message)], errors);
        Assert.Equal(new StabilityPolicy(), policy); // a rule with errors is not taken
    }

    [Fact]
    public void ReadOptions_GivenKeys_OthersDefault()
    {
        var errors = new List<StabilityConfigError>();
        var options = StabilityParsing.ReadOptions(M(("flip_window", 50L), ("max_flip_rate", 0.3), ("min_exponent", -16L), ("loss_spike_factor", 5L)), errors);
        Assert.Empty(errors);
        Assert.Equal(new StabilityOptions { FlipWindow = 50, MaxFlipRate = 0.3, MinExponent = -16, LossSpikeFactor = 5 }, options);
    }

    public static TheoryData<List<KeyValuePair<string, object?>>, string, string> BadOptions => new()
    {
        { M(("flip_window", 1L)), "flip_window", "must be between 2 and 100000, found 1" },
        { M(("flip_window", 2.5)), "flip_window", "expected an integer, found the number 2.5" },
        { M(("max_flip_rate", "high")), "max_flip_rate", "expected a number, found 'high'" },
        { M(("max_flip_rate", true)), "max_flip_rate", "expected a number, found the boolean true" },
        { M(("min_exponent", 9L)), "min_exponent", "must be less than max_exponent (8), found 9" },
        { M(("warmup", 10L)), "warmup", "unknown key; expected one of warmup_steps, flip_window, max_flip_rate, min_exponent, max_exponent, drift_window, drift_min_change, spike_window, loss_spike_factor, grad_norm_factor" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void ReadOptions_BadEntry_OneErrorWithKeyPath(List<KeyValuePair<string, object?>> entries, string path, string message)
    {
        var errors = new List<StabilityConfigError>();
        StabilityParsing.ReadOptions(entries, errors, "stability.monitor");
        Assert.Equal([new StabilityConfigError("stability.monitor." + path, message)], errors);
    }
}
