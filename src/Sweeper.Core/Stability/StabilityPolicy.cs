using System.Globalization;
using Sweeper.Core.Model;

namespace Sweeper.Core.Stability;

/// <summary>What to do about a verdict: the spec's <c>action</c>.</summary>
public enum StabilityActionKind { Continue, Stop, Restart }

/// <summary>Where a restart starts: the spec's <c>from</c>.</summary>
public enum RestartFrom
{
    /// <summary><c>last_healthy</c>: the newest checkpoint marked healthy (see <see cref="StabilityMonitor.IsHealthyOver"/>); the start when there is none.</summary>
    LastHealthy,
    /// <summary><c>start</c>: from scratch (fresh initialisation, step 0).</summary>
    Start,
    /// <summary>
    /// <c>latest</c>: the newest checkpoint, healthy or not (the start when there is none): for a chronic condition such as
    /// an oscillating exponent, which leaves no healthy epoch to go back to but does not spoil the weights, so the run
    /// goes on from its last epoch boundary with the change (e.g. the stable scale, frozen at the average so far).
    /// </summary>
    Latest,
}

/// <summary>How the delay grows from one restart to the next (Polly's <c>DelayBackoffType</c>).</summary>
public enum BackoffType
{
    /// <summary>delay, delay, delay, …</summary>
    Constant,
    /// <summary>delay, 2·delay, 3·delay, …</summary>
    Linear,
    /// <summary>delay, 2·delay, 4·delay, …</summary>
    Exponential,
}

/// <summary>
/// The wait before a restart, in wall-clock time. Time rather than epochs: instability is not a transient
/// fault, so waiting does not cure it; the wait exists so that a trial that keeps failing yields its slot to
/// queued trials and so that a restart storm cannot spin. The trial's actor schedules the restart after
/// <see cref="DelayFor"/>; nothing here reads a clock. Default: no wait.
/// </summary>
public sealed record RestartBackoff
{
    /// <summary><c>type</c>: how the delay grows; default constant.</summary>
    public BackoffType Type { get; init; } = BackoffType.Constant;

    /// <summary><c>delay</c>: the first restart's wait (and the step of linear growth); default zero.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.Zero;

    /// <summary><c>max_delay</c>: no wait is longer; default none (only <see cref="StabilityConstants.MaxDelayLimit"/>).</summary>
    public TimeSpan? MaxDelay { get; init; }

    /// <summary>No wait.</summary>
    public static RestartBackoff None { get; } = new();

    /// <summary>
    /// The wait before restart <paramref name="restart"/> (1-based, counted per verdict kind): constant d, linear
    /// d·n, exponential d·2^(n−1); capped at <see cref="MaxDelay"/> and <see cref="StabilityConstants.MaxDelayLimit"/>.
    /// </summary>
    public TimeSpan DelayFor(int restart)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(restart, 1);
        var cap = MaxDelay is { } max && max < StabilityConstants.MaxDelayLimit ? max : StabilityConstants.MaxDelayLimit;
        double factor = Type switch
        {
            BackoffType.Linear => restart,
            BackoffType.Exponential => Math.Pow(2, restart - 1),
            _ => 1,
        };
        double ticks = Delay.Ticks * factor; // double: no overflow for large restart numbers
        return ticks >= cap.Ticks ? cap : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>Problems with key paths under <paramref name="path"/> (for example <c>diverged.backoff</c>).</summary>
    public IReadOnlyList<StabilityConfigError> Validate(string path)
    {
        var errors = new List<StabilityConfigError>();
        if (Delay < TimeSpan.Zero || Delay > StabilityConstants.MaxDelayLimit)
            errors.Add(new(Join(path, "delay"), $"must be between 0 and {StabilityParsing.FormatDuration(StabilityConstants.MaxDelayLimit)}, found {StabilityParsing.FormatDuration(Delay)}"));
        if (MaxDelay is { } max && (max < Delay || max > StabilityConstants.MaxDelayLimit))
            errors.Add(new(Join(path, "max_delay"), $"must be between delay ({StabilityParsing.FormatDuration(Delay)}) and {StabilityParsing.FormatDuration(StabilityConstants.MaxDelayLimit)}, found {StabilityParsing.FormatDuration(max)}"));
        return errors;
    }

    public override string ToString()
    {
        if (Delay == TimeSpan.Zero) return "no wait";
        string d = StabilityParsing.FormatDuration(Delay);
        string grows = Type switch { BackoffType.Linear => $"{d} × n", BackoffType.Exponential => $"{d} × 2^(n−1)", _ => d };
        return MaxDelay is { } max ? $"{grows}, at most {StabilityParsing.FormatDuration(max)}" : grows;
    }

    internal static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;
}

/// <summary>
/// What to do about one kind of verdict: continue, stop, or restart (from where, with which changes, how often,
/// after what wait). The defaults are those of a restart rule without changes; see <see cref="StabilityPolicy"/>
/// for the defaults per kind.
/// </summary>
public sealed record StabilityRule
{
    /// <summary><c>action</c>: restart, stop or continue.</summary>
    public StabilityActionKind Action { get; init; } = StabilityActionKind.Continue;

    /// <summary><c>from</c>: last_healthy (default) or start. Restart only.</summary>
    public RestartFrom From { get; init; } = RestartFrom.LastHealthy;

    /// <summary><c>changes</c>: applied once more at each restart (cumulative). Restart only.</summary>
    public ChangeSet Changes { get; init; } = ChangeSet.Empty;

    /// <summary>
    /// <c>max_restarts</c>: restarts for this kind of verdict before the trial is stopped instead; default 3
    /// (a learning rate halved three times is 1/8 of the original: if that does not help, more halving will not
    /// either). Restart only.
    /// </summary>
    public int MaxRestarts { get; init; } = StabilityConstants.DefaultMaxRestarts;

    /// <summary><c>backoff</c>: the wait before each restart; default none. Restart only.</summary>
    public RestartBackoff Backoff { get; init; } = RestartBackoff.None;

    public static StabilityRule Continue { get; } = new();

    public static StabilityRule Stop { get; } = new() { Action = StabilityActionKind.Stop };

    public static StabilityRule Restart(ChangeSet changes, RestartFrom from = RestartFrom.LastHealthy,
        int maxRestarts = StabilityConstants.DefaultMaxRestarts, RestartBackoff? backoff = null) =>
        new() { Action = StabilityActionKind.Restart, Changes = changes, From = from, MaxRestarts = maxRestarts, Backoff = backoff ?? RestartBackoff.None };

    /// <summary>Problems with key paths under <paramref name="path"/> (the verdict kind, e.g. <c>diverged</c>).</summary>
    public IReadOnlyList<StabilityConfigError> Validate(string path = "")
    {
        var errors = new List<StabilityConfigError>();
        if (Changes is null) errors.Add(new(RestartBackoff.Join(path, "changes"), "must not be null"));
        if (Backoff is null) errors.Add(new(RestartBackoff.Join(path, "backoff"), "must not be null"));
        if (Action == StabilityActionKind.Restart)
        {
            if (MaxRestarts is < 1 or > StabilityConstants.MaxRestartsLimit)
                errors.Add(new(RestartBackoff.Join(path, "max_restarts"),
                    $"must be between 1 and {StabilityConstants.MaxRestartsLimit}, found {MaxRestarts.ToString(CultureInfo.InvariantCulture)} (to never restart, use action: stop)"));
            if (Backoff is not null) errors.AddRange(Backoff.Validate(RestartBackoff.Join(path, "backoff")));
        }
        else if (Changes is { Count: > 0 })
            errors.Add(new(RestartBackoff.Join(path, "changes"), $"apply only when action is restart; action is {StabilityParsing.Word(Action)}"));
        return errors;
    }

    public override string ToString() => Action switch
    {
        StabilityActionKind.Restart => $"restart from {StabilityParsing.Word(From)} with {Changes}, at most {MaxRestarts} times, {Backoff}",
        _ => StabilityParsing.Word(Action),
    };
}

/// <summary>
/// The spec's stability policy: one rule per non-healthy verdict kind (the options, as Polly's
/// <c>RetryStrategyOptions</c>; <see cref="RestartPolicy"/> makes the decisions).
/// </summary>
/// <remarks>
/// Defaults: <c>diverged</c> restarts from the last healthy checkpoint with the learning rate halved, at most 3
/// times, without waiting (halving the learning rate is the standard cure for a loss that blows up, and a NaN
/// run cannot continue). <c>oscillating</c> and <c>drifting</c> continue: they cost accuracy but the run still
/// finishes and is judged by its objective, and their cures are method-specific (a frozen stable exponent for
/// <c>msqe_po2</c>, rounding to lower MSQE for <c>learnable_po2</c>), so a spec declares them. The verdicts are
/// still recorded.
/// </remarks>
public sealed record StabilityPolicy
{
    public StabilityRule Oscillating { get; init; } = StabilityRule.Continue;
    public StabilityRule Drifting { get; init; } = StabilityRule.Continue;
    public StabilityRule Diverged { get; init; } = DefaultDiverged;

    /// <summary>Restart from the last healthy checkpoint with <c>trainable.optimizer.lr: "*0.5"</c>, at most 3 times.</summary>
    public static StabilityRule DefaultDiverged { get; } =
        StabilityRule.Restart(new ChangeSet([new ParameterChange(StabilityConstants.LearningRateKey, ChangeOperation.Multiply, 0.5, "*0.5")]));

    /// <summary>The rule for <paramref name="kind"/> (healthy has none: it always continues).</summary>
    public StabilityRule For(StabilityKind kind) => kind switch
    {
        StabilityKind.Oscillating => Oscillating,
        StabilityKind.Drifting => Drifting,
        StabilityKind.Diverged => Diverged,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "a healthy verdict has no rule"),
    };

    /// <summary>Every problem, with key paths such as <c>diverged.max_restarts</c>; empty when valid.</summary>
    public IReadOnlyList<StabilityConfigError> Validate()
    {
        var errors = new List<StabilityConfigError>();
        foreach (var kind in StabilityKinds.Unhealthy)
        {
            var rule = For(kind);
            if (rule is null) errors.Add(new(kind.Word(), "must not be null"));
            else errors.AddRange(rule.Validate(kind.Word()));
        }
        return errors;
    }
}
