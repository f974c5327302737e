using Sweeper.Core.Spec;
using Sweeper.Core.Stability;

namespace Sweeper.Core.Tests.Stability;

/// <summary>
/// The spec's <c>stability:</c> section, read by the spec loader from SpecSchema's key tables like every other section:
/// values, defaults, and every error with its key path, file:line:col and the loader's wording.
/// </summary>
public class StabilityParsingTests
{
    /// <summary>A valid spec whose <c>stability:</c> section is the line(s) given, at line 9, indented by two.</summary>
    private static string Spec(params string[] stability) =>
        "name: s\n" +
        "objective: {metric: val_accuracy}\n" +
        "trainable:\n" +
        "  model: synthetic\n" +
        "  epochs: 2\n" +
        "  batch_size: 100\n" +
        "  optimizer: {name: sgd, lr: 0.1}\n" +
        "stability:\n" +
        string.Concat(stability.Select(l => "  " + l + "\n"));

    private const int StabilityLine = 9;

    private static StabilitySection Load(params string[] stability) =>
        SpecLoader.LoadText(Spec(stability), "spec.yaml", Path.GetTempPath()).Stability;

    /// <summary>The one error of a one-line stability section; it must point at the last <paramref name="at"/> in that line.</summary>
    private static SpecError Error(string line, string at)
    {
        var ex = Assert.Throws<SpecException>(() => Load(line));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("spec.yaml", error.File);
        Assert.Equal(StabilityLine, error.Location.Line);
        Assert.True(line.Contains(at, StringComparison.Ordinal), $"'{at}' is not in the line");
        Assert.Equal(2 + line.LastIndexOf(at, StringComparison.Ordinal) + 1, error.Location.Column);
        return error;
    }

    // ---- scalars ----

    [Theory]
    [InlineData("restart", StabilityActionKind.Restart)]
    [InlineData("stop", StabilityActionKind.Stop)]
    [InlineData("continue", StabilityActionKind.Continue)]
    public void Action_Word_Action(string word, StabilityActionKind expected)
    {
        var action = Load($"diverged: {{action: {word}}}").Policy.Diverged.Action;
        Assert.Equal(expected, action);
        Assert.Equal(word, StabilityParsing.Word(action));
    }

    [Theory]
    [InlineData("Restart", "unknown value 'Restart'; expected one of restart, stop, continue")]
    [InlineData("retry", "unknown value 'retry'; expected one of restart, stop, continue")]
    [InlineData("null", "expected one of restart, stop, continue, found nothing (null)")]
    [InlineData("3", "unknown value '3'; expected one of restart, stop, continue")]
    [InlineData("true", "unknown value 'true'; expected one of restart, stop, continue")]
    public void Action_BadValue_LocatedMessage(string value, string message)
    {
        var error = Error($"diverged: {{action: {value}}}", value);
        Assert.Equal("stability.diverged.action", error.KeyPath);
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("last_healthy", RestartFrom.LastHealthy, null)]
    [InlineData("latest", RestartFrom.Latest, null)]
    [InlineData("start", RestartFrom.Start, null)]
    [InlineData("last-healthy", RestartFrom.LastHealthy, "unknown value 'last-healthy'; expected one of last_healthy, latest, start")]
    public void From_Word_FromOrMessage(string word, RestartFrom expected, string? message)
    {
        var line = $"diverged: {{action: restart, from: {word}}}";
        if (message is null)
        {
            var from = Load(line).Policy.Diverged.From;
            Assert.Equal(expected, from);
            Assert.Equal(word, StabilityParsing.Word(from));
            return;
        }
        var error = Error(line, word);
        Assert.Equal("stability.diverged.from", error.KeyPath);
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("constant", BackoffType.Constant)]
    [InlineData("linear", BackoffType.Linear)]
    [InlineData("exponential", BackoffType.Exponential)]
    public void BackoffType_Word_Type(string word, BackoffType expected)
    {
        var type = Load($"diverged: {{action: restart, backoff: {{type: {word}}}}}").Policy.Diverged.Backoff.Type;
        Assert.Equal(expected, type);
        Assert.Equal(word, StabilityParsing.Word(type));
    }

    [Theory]
    [InlineData("30", 30)]
    [InlineData("1.5", 1.5)]
    [InlineData("0", 0)]
    [InlineData("30s", 30)]
    [InlineData("500ms", 0.5)]
    [InlineData("5m", 300)]
    [InlineData("1.5m", 90)]
    [InlineData("2h", 7200)]
    [InlineData("24h", 86_400)]
    [InlineData("\"10\"", 10)]
    [InlineData("\" 10 s \"", 10)]
    public void Duration_Value_Seconds(string value, double seconds)
    {
        // As the backoff's shorthand (a constant wait) and as its delay.
        Assert.Equal(new RestartBackoff { Delay = TimeSpan.FromSeconds(seconds) }, Load($"diverged: {{action: restart, backoff: {value}}}").Policy.Diverged.Backoff);
        Assert.Equal(TimeSpan.FromSeconds(seconds), Load($"diverged: {{action: restart, backoff: {{delay: {value}}}}}").Policy.Diverged.Backoff.Delay);
    }

    [Theory]
    [InlineData("soon", "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found 'soon'")]
    [InlineData("s", "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found 's'")]
    [InlineData("10 days", "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found '10 days'")]
    [InlineData("true", "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found 'true'")]
    [InlineData("null", "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds), found nothing (null)")]
    [InlineData("-5s", "must not be negative, found -5s")]
    [InlineData("-1", "must not be negative, found -1s")]
    [InlineData("25h", "must be at most 24h, found 25h")]
    public void Duration_BadValue_LocatedMessage(string value, string message)
    {
        var error = Error($"diverged: {{action: restart, backoff: {{delay: {value}}}}}", value);
        Assert.Equal("stability.diverged.backoff.delay", error.KeyPath);
        Assert.Equal(message, error.Message);
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
        Assert.True(SpecDuration.TryParseSeconds(expected, out var back));
        Assert.Equal(TimeSpan.FromSeconds(seconds), SpecDuration.FromSeconds(back));
    }

    [Theory]
    [InlineData("3", 3, null)]
    [InlineData("1", 1, null)]
    [InlineData("100", 100, null)]
    [InlineData("0", null, "must be between 1 and 100, found 0 (to never restart, use action: stop)")]
    [InlineData("101", null, "must be between 1 and 100, found 101 (to never restart, use action: stop)")]
    [InlineData("2.5", null, "expected an integer, found '2.5'")]
    [InlineData("\"3\"", null, "expected an integer, found the string \"3\"")]
    public void MaxRestarts_Value_CountOrMessage(string value, int? expected, string? message)
    {
        var line = $"diverged: {{action: restart, max_restarts: {value}}}";
        if (message is null)
        {
            Assert.Equal(expected, Load(line).Policy.Diverged.MaxRestarts);
            return;
        }
        var error = Error(line, value);
        Assert.Equal("stability.diverged.max_restarts", error.KeyPath);
        Assert.Equal(message, error.Message);
    }

    // ---- sections ----

    [Fact]
    public void Policy_FullExample_EveryField()
    {
        var policy = Load(
            "oscillating:",
            "  action: restart",
            "  changes:",
            "    - trainable.quantizer.stable_scale: true",
            "  max_restarts: 1",
            "diverged:",
            "  action: restart",
            "  from: start",
            "  changes:",
            "    - trainable.optimizer.lr: \"*0.5\"",
            "    - trainable.quantizer.bits: \"+1\"",
            "  max_restarts: 2",
            "  backoff: {type: exponential, delay: 30s, max_delay: 10m}").Policy;

        Assert.Equal(StabilityRule.Restart(ChangeSet.Parse(("trainable.quantizer.stable_scale", true)), maxRestarts: 1), policy.Oscillating);
        Assert.Equal(StabilityRule.Continue, policy.Drifting); // not given: the default
        Assert.Equal(
            StabilityRule.Restart(ChangeSet.Parse(("trainable.optimizer.lr", "*0.5"), ("trainable.quantizer.bits", "+1")), RestartFrom.Start, 2,
                new RestartBackoff { Type = BackoffType.Exponential, Delay = TimeSpan.FromSeconds(30), MaxDelay = TimeSpan.FromMinutes(10) }),
            policy.Diverged);
    }

    [Fact]
    public void Rule_ChangesAsOneMappingAndBackoffAsDuration_Accepted()
    {
        var rule = Load("diverged: {action: restart, changes: {trainable.optimizer.lr: \"*0.5\", trainable.optimizer.momentum: 0.8}, backoff: 1m}").Policy.Diverged;
        Assert.Equal(StabilityRule.Restart(ChangeSet.Parse(("trainable.optimizer.lr", "*0.5"), ("trainable.optimizer.momentum", 0.8)),
            backoff: new RestartBackoff { Delay = TimeSpan.FromMinutes(1) }), rule);
    }

    [Fact]
    public void Rule_ChangeIsAnotherNameOfChanges()
    {
        var rule = Load("diverged: {action: restart, change: [{trainable.optimizer.lr: \"*0.1\"}]}").Policy.Diverged;
        Assert.Equal(ChangeSet.Parse(("trainable.optimizer.lr", "*0.1")), rule.Changes);

        var error = Error("diverged: {action: restart, change: [], changes: []}", "changes");
        Assert.Equal("stability.diverged.changes", error.KeyPath);
        Assert.Equal("'changes' and 'change' (line 9) name the same key; give one", error.Message);
    }

    [Fact]
    public void Rule_Given_StartsFromABlankRuleNotTheDefault()
    {
        // The default diverged rule halves the learning rate; a rule written in the spec replaces it whole.
        Assert.Equal(StabilityRule.Stop, Load("diverged: {action: stop}").Policy.Diverged);
        Assert.Equal(StabilityRule.Restart(ChangeSet.Empty), Load("diverged: {action: restart}").Policy.Diverged);
    }

    [Fact]
    public void Section_NullOrAbsent_Defaults()
    {
        Assert.Equal(new StabilitySection(), Load());
        Assert.Equal(StabilityPolicy.DefaultDiverged, Load().Policy.Diverged);
    }

    public static TheoryData<string, string, string, string> BadPolicies => new()
    {
        { "diverged: {from: start}", "{from", "diverged.action", "missing required key 'action'" },
        { "diverged: {action: retry}", "retry", "diverged.action", "unknown value 'retry'; expected one of restart, stop, continue" },
        { "diverged: {action: stop, changes: [{lr: \"*0.5\"}]}", "changes", "diverged.changes", "applies only when action is restart; action is stop" },
        { "drifting: {action: continue, max_restarts: 2}", "max_restarts", "drifting.max_restarts", "applies only when action is restart; action is continue" },
        { "diverged: {action: restart, max_restarts: 0}", "0", "diverged.max_restarts", "must be between 1 and 100, found 0 (to never restart, use action: stop)" },
        { "diverged: {action: restart, changes: [{lr: \"*0.5\"}, {lr: \"*x\"}]}", "{lr: \"*x\"}", "diverged.changes[1]", "lr: '*x': expected a finite unsigned number after '*', as in '*0.5'" },
        { "diverged: {action: restart, changes: [lr]}", "lr]", "diverged.changes[0]", "expected one 'key: change' entry, such as trainable.optimizer.lr: \"*0.5\"; found 'lr'" },
        { "diverged: {action: restart, changes: [{a: 1, b: 2}]}", "{a: 1", "diverged.changes[0]", "expected one 'key: change' entry, such as trainable.optimizer.lr: \"*0.5\"; found a mapping" },
        { "diverged: {action: restart, changes: lr}", "lr}", "diverged.changes", "expected a list of 'key: change' entries, such as - trainable.optimizer.lr: \"*0.5\", found 'lr'" },
        { "diverged: {action: restart, backoff: {type: quadratic}}", "quadratic", "diverged.backoff.type", "unknown value 'quadratic'; expected one of constant, linear, exponential" },
        { "diverged: {action: restart, backoff: {delay: 10s, max_delay: 5s}}", "max_delay", "diverged.backoff.max_delay", "must be between delay (10s) and 24h, found 5s" },
        { "diverged: {action: restart, backoff: {jitter: true}}", "jitter", "diverged.backoff.jitter", "unknown key 'jitter' (valid keys here: type, delay, max_delay)" },
        { "diverged: {action: restart, backoff: {dealy: 5s}}", "dealy", "diverged.backoff.dealy", "unknown key 'dealy'; did you mean 'delay'? (valid keys here: type, delay, max_delay)" },
        { "diverged: {action: restart, backoff: soon}", "soon", "diverged.backoff", "expected a duration such as 500ms, 30s, 5m or 1h (or a number of seconds) or a mapping of keys (type, delay, max_delay), found 'soon'" },
        { "diverged: {action: restart, backoff: 48h}", "48h", "diverged.backoff", "must be at most 24h, found 48h" },
        { "diverged: {action: restart, retries: 3}", "retries", "diverged.retries", "unknown key 'retries' (valid keys here: action, from, changes, max_restarts, backoff)" },
        { "diverged: {acton: stop}", "acton", "diverged.acton", "unknown key 'acton'; did you mean 'action'? (valid keys here: action, from, changes, max_restarts, backoff)" },
        { "exploding: {action: stop}", "exploding", "exploding", "unknown key 'exploding' (valid keys here: monitor, oscillating, drifting, diverged)" },
        { "divergd: {action: stop}", "divergd", "divergd", "unknown key 'divergd'; did you mean 'diverged'? (valid keys here: monitor, oscillating, drifting, diverged)" },
        { "diverged: restart", "restart", "diverged", "expected a mapping of keys (action, from, changes, max_restarts, backoff), found 'restart'" },
        { "diverged: {action: restart, changes: [{trainable.optimizer.lrr: \"*0.5\"}]}", "{trainable", "diverged.changes[0]", "a change must name a trainable setting; 'trainable.optimizer.lrr' is not one (did you mean 'trainable.optimizer.lr'?)" },
        { "diverged: {action: restart, changes: [{trainable.batch_size: \"*0.5\"}], max_restarts: 3}", "changes", "diverged.changes", "trainable.batch_size: '*0.5' at restart 3 turns the integer 25 into 12.5, which is not an integer" },
    };

    [Theory]
    [MemberData(nameof(BadPolicies))]
    public void Policy_BadEntry_OneLocatedErrorWithKeyPath(string line, string at, string path, string message)
    {
        var error = Error(line, at);
        Assert.Equal("stability." + path, error.KeyPath);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Monitor_GivenKeys_OthersDefault()
    {
        var options = Load("monitor: {flip_window: 50, max_flip_rate: 0.3, min_exponent: -16, loss_spike_factor: 5}").Monitor;
        Assert.Equal(new StabilityOptions { FlipWindow = 50, MaxFlipRate = 0.3, MinExponent = -16, LossSpikeFactor = 5 }, options);
    }

    public static TheoryData<string, string, string, string> BadOptions => new()
    {
        { "flip_window: 1", "1", "flip_window", "must be between 2 and 100000, found 1" },
        { "flip_window: 2.5", "2.5", "flip_window", "expected an integer, found '2.5'" },
        { "max_flip_rate: high", "high", "max_flip_rate", "expected a number, found 'high'" },
        { "max_flip_rate: true", "true", "max_flip_rate", "expected a number, found 'true'" },
        { "min_exponent: 9", "min_exponent", "min_exponent", "must be less than max_exponent (8), found 9" },
        { "warmup_steps: -1", "-1", "warmup_steps", "must not be negative, found -1" },
        { "loss_spike_factor: 1", "1", "loss_spike_factor", "must be a finite number greater than 1, found 1" },
        { "warmup: 10", "warmup", "warmup", "unknown key 'warmup' (valid keys here: warmup_steps, flip_window, max_flip_rate, min_exponent, max_exponent, drift_window, drift_min_change, spike_window, loss_spike_factor, grad_norm_factor)" },
        { "flip_windw: 10", "flip_windw", "flip_windw", "unknown key 'flip_windw'; did you mean 'flip_window'? (valid keys here: warmup_steps, flip_window, max_flip_rate, min_exponent, max_exponent, drift_window, drift_min_change, spike_window, loss_spike_factor, grad_norm_factor)" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Monitor_BadEntry_OneLocatedErrorWithKeyPath(string entry, string at, string path, string message)
    {
        var error = Error($"monitor: {{{entry}}}", at);
        Assert.Equal("stability.monitor." + path, error.KeyPath);
        Assert.Equal(message, error.Message);
    }
}
