using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Sweeper.Core.Search;
using Sweeper.Core.Model;

namespace Sweeper.Core.Stability;

/// <summary>
/// Reads stability settings from plain values as a YAML loader gives them: <see cref="string"/>, <see cref="bool"/>,
/// <see cref="long"/>, <see cref="double"/>, null; a mapping as an ordered
/// <see cref="IEnumerable{T}"/> of <c>KeyValuePair&lt;string, object?&gt;</c>; a list as any other non-string
/// <see cref="IEnumerable"/>. Errors carry a key path relative to where reading started (for example
/// <c>diverged.changes[0]</c>) and a message in the spec validator's wording; the loader adds file:line:col.
/// </summary>
/// <remarks>
/// The spec shape these readers accept:
/// <code>
/// stability:                 # ReadPolicy reads the entries of this mapping (monitor settings: ReadOptions)
///   diverged:
///     action: restart        # restart | stop | continue (required)
///     from: last_healthy     # last_healthy | latest | start
///     changes:               # a list of single-entry mappings, or one mapping
///       - trainable.optimizer.lr: "*0.5"
///       - trainable.quantizer.stable_scale: true
///     max_restarts: 3        # 1..100
///     backoff: { type: exponential, delay: 30s, max_delay: 10m }   # or just a duration: backoff: 30s
///   oscillating: { action: continue }
/// </code>
/// </remarks>
public static class StabilityParsing
{
    /// <summary>The non-healthy verdict kinds, in the order rules are read and written.</summary>
    public static IReadOnlyList<StabilityKind> Kinds { get; } = [StabilityKind.Oscillating, StabilityKind.Drifting, StabilityKind.Diverged];

    private static readonly string[] RuleKeys = ["action", "from", "changes", "max_restarts", "backoff"];
    private static readonly string[] BackoffKeys = ["type", "delay", "max_delay"];
    private static readonly string[] OptionKeys =
        ["warmup_steps", "flip_window", "max_flip_rate", "min_exponent", "max_exponent", "drift_window", "drift_min_change", "spike_window", "loss_spike_factor", "grad_norm_factor"];

    // ---- spec words ----

    public static string Word(StabilityKind kind) => kind.ToString().ToLowerInvariant();

    public static string Word(StabilityActionKind action) => action switch
    {
        StabilityActionKind.Restart => StabilityConstants.ActionRestart,
        StabilityActionKind.Stop => StabilityConstants.ActionStop,
        _ => StabilityConstants.ActionContinue,
    };

    public static string Word(RestartFrom from) => from switch
    {
        RestartFrom.Start => StabilityConstants.FromStart,
        RestartFrom.Latest => StabilityConstants.FromLatest,
        _ => StabilityConstants.FromLastHealthy,
    };

    public static string Word(BackoffType type) => type switch
    {
        BackoffType.Linear => StabilityConstants.BackoffLinear,
        BackoffType.Exponential => StabilityConstants.BackoffExponential,
        _ => StabilityConstants.BackoffConstant,
    };

    // ---- scalars ----

    public static bool TryParseAction(object? value, out StabilityActionKind action, [NotNullWhen(false)] out string? error) =>
        TryChoice(value, [(StabilityConstants.ActionRestart, StabilityActionKind.Restart), (StabilityConstants.ActionStop, StabilityActionKind.Stop), (StabilityConstants.ActionContinue, StabilityActionKind.Continue)], out action, out error);

    public static bool TryParseFrom(object? value, out RestartFrom from, [NotNullWhen(false)] out string? error) =>
        TryChoice(value, [(StabilityConstants.FromLastHealthy, RestartFrom.LastHealthy), (StabilityConstants.FromLatest, RestartFrom.Latest), (StabilityConstants.FromStart, RestartFrom.Start)], out from, out error);

    public static bool TryParseBackoffType(object? value, out BackoffType type, [NotNullWhen(false)] out string? error) =>
        TryChoice(value, [(StabilityConstants.BackoffConstant, BackoffType.Constant), (StabilityConstants.BackoffLinear, BackoffType.Linear), (StabilityConstants.BackoffExponential, BackoffType.Exponential)], out type, out error);

    /// <summary><c>max_restarts</c>: an integer from 1 to <see cref="StabilityConstants.MaxRestartsLimit"/>.</summary>
    public static bool TryParseMaxRestarts(object? value, out int maxRestarts, [NotNullWhen(false)] out string? error)
    {
        maxRestarts = 0;
        if (!TryInteger(value, out long n, out error)) return false;
        if (n is < 1 or > StabilityConstants.MaxRestartsLimit)
        {
            error = $"must be between 1 and {StabilityConstants.MaxRestartsLimit}, found {n} (to never restart, use action: stop)";
            return false;
        }
        maxRestarts = (int)n;
        return true;
    }

    /// <summary>
    /// A duration: a number of seconds, or text with a unit — <c>500ms</c>, <c>30s</c>, <c>1.5m</c>, <c>2h</c> (a
    /// bare number in text is seconds). From 0 to <see cref="StabilityConstants.MaxDelayLimit"/>.
    /// </summary>
    public static bool TryParseDuration(object? value, out TimeSpan duration, [NotNullWhen(false)] out string? error)
    {
        duration = TimeSpan.Zero;
        error = null;
        const string expected = "a duration such as 500ms, 30s, 5m or 1h (or a number of seconds)";
        double seconds;
        switch (value)
        {
            case long or int or double or float:
                seconds = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                break;
            case string text:
            {
                string t = text.Trim();
                (string number, double unit) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 0.001)
                    : t.EndsWith('s') ? (t[..^1], 1)
                    : t.EndsWith('m') ? (t[..^1], 60)
                    : t.EndsWith('h') ? (t[..^1], 3600)
                    : (t, 1.0);
                if (!double.TryParse(number.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || number.Trim().Length == 0)
                {
                    error = $"expected {expected}, found '{text}'";
                    return false;
                }
                seconds = n * unit;
                break;
            }
            default:
                error = $"expected {expected}, found {Found(value)}";
                return false;
        }
        if (!double.IsFinite(seconds) || seconds < 0)
        {
            error = $"must not be negative, found {Found(value)}";
            return false;
        }
        if (seconds > StabilityConstants.MaxDelayLimit.TotalSeconds)
        {
            error = $"must be at most {FormatDuration(StabilityConstants.MaxDelayLimit)}, found {Found(value)}";
            return false;
        }
        duration = TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
        return true;
    }

    /// <summary><c>0s</c>, <c>500ms</c>, <c>30s</c>, <c>1.5s</c>, <c>5m</c>, <c>24h</c>: the shortest exact form.</summary>
    public static string FormatDuration(TimeSpan d)
    {
        if (d == TimeSpan.Zero) return "0s";
        if (d.Ticks % TimeSpan.TicksPerHour == 0) return F(d.TotalHours) + "h";
        if (d.Ticks % TimeSpan.TicksPerMinute == 0) return F(d.TotalMinutes) + "m";
        if (d.Ticks % TimeSpan.TicksPerSecond == 0 || d >= TimeSpan.FromSeconds(1) || d <= TimeSpan.FromSeconds(-1)) return F(d.TotalSeconds) + "s";
        return F(d.TotalMilliseconds) + "ms";
    }

    // ---- sections ----

    /// <summary>
    /// Reads a stability policy: a mapping with any of <c>oscillating</c>, <c>drifting</c>, <c>diverged</c>; a
    /// kind not given keeps its default (see <see cref="StabilityPolicy"/>). Problems are added to
    /// <paramref name="errors"/> with paths under <paramref name="path"/>.
    /// </summary>
    public static StabilityPolicy ReadPolicy(IEnumerable<KeyValuePair<string, object?>> entries, List<StabilityConfigError> errors, string path = "")
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(errors);
        var policy = new StabilityPolicy();
        foreach (var (key, value) in entries)
        {
            string at = RestartBackoff.Join(path, key);
            int k = Kinds.ToList().FindIndex(kind => Word(kind) == key);
            if (k < 0)
            {
                errors.Add(new(at, $"unknown key; expected one of {string.Join(", ", Kinds.Select(Word))}"));
                continue;
            }
            if (!TryMapping(value, out var ruleEntries))
            {
                errors.Add(new(at, $"expected a mapping with at least 'action', found {Found(value)}"));
                continue;
            }
            var rule = ReadRule(ruleEntries, errors, at);
            if (rule is null) continue;
            policy = Kinds[k] switch
            {
                StabilityKind.Oscillating => policy with { Oscillating = rule },
                StabilityKind.Drifting => policy with { Drifting = rule },
                _ => policy with { Diverged = rule },
            };
        }
        return policy;
    }

    /// <summary>
    /// Reads one rule (the mapping under a verdict kind); null when it has errors, which are added to
    /// <paramref name="errors"/>. <c>action</c> is required; <c>from</c>, <c>changes</c>, <c>max_restarts</c> and
    /// <c>backoff</c> are allowed only with <c>action: restart</c>.
    /// </summary>
    public static StabilityRule? ReadRule(IEnumerable<KeyValuePair<string, object?>> entries, List<StabilityConfigError> errors, string path = "")
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(errors);
        int before = errors.Count;
        var rule = new StabilityRule { Action = (StabilityActionKind)(-1) };
        var restartOnly = new List<string>();
        foreach (var (key, value) in entries)
        {
            string at = RestartBackoff.Join(path, key);
            string? error;
            switch (key)
            {
                case "action":
                    if (TryParseAction(value, out var action, out error)) rule = rule with { Action = action };
                    break;
                case "from":
                    restartOnly.Add(key);
                    if (TryParseFrom(value, out var from, out error)) rule = rule with { From = from };
                    break;
                case "max_restarts":
                    restartOnly.Add(key);
                    if (TryParseMaxRestarts(value, out int max, out error)) rule = rule with { MaxRestarts = max };
                    break;
                case "changes":
                {
                    restartOnly.Add(key);
                    error = null;
                    var changes = ReadChanges(value, errors, at);
                    if (changes is not null) rule = rule with { Changes = changes };
                    break;
                }
                case "backoff":
                {
                    restartOnly.Add(key);
                    error = null;
                    var backoff = ReadBackoff(value, errors, at);
                    if (backoff is not null) rule = rule with { Backoff = backoff };
                    break;
                }
                default:
                    error = $"unknown key; expected one of {string.Join(", ", RuleKeys)}";
                    break;
            }
            if (error is not null) errors.Add(new(at, error));
        }
        if (!Enum.IsDefined(rule.Action))
        {
            if (!entries.Any(e => e.Key == "action"))
                errors.Add(new(path, $"'action' is required: one of {StabilityConstants.ActionRestart}, {StabilityConstants.ActionStop}, {StabilityConstants.ActionContinue}"));
            return null;
        }
        if (rule.Action != StabilityActionKind.Restart)
            foreach (var key in restartOnly)
                errors.Add(new(RestartBackoff.Join(path, key), $"applies only when action is restart; action is {Word(rule.Action)}"));
        if (errors.Count == before) errors.AddRange(rule.Validate(path));
        return errors.Count == before ? rule : null;
    }

    /// <summary>
    /// Reads <c>changes</c>: a list of single-entry mappings (<c>- trainable.optimizer.lr: "*0.5"</c>) or one mapping.
    /// Paths are <c>changes[i]</c> under <paramref name="path"/>'s parent; null when there were errors.
    /// </summary>
    public static ChangeSet? ReadChanges(object? value, List<StabilityConfigError> errors, string path = "changes")
    {
        ArgumentNullException.ThrowIfNull(errors);
        int before = errors.Count;
        var entries = new List<(int Index, string Key, object? Value)>();
        if (TryMapping(value, out var map))
            entries.AddRange(map.Select((e, i) => (i, e.Key, e.Value)));
        else if (value is IEnumerable list and not string)
        {
            int i = 0;
            foreach (var item in list)
            {
                if (TryMapping(item, out var one) && one.Take(2).Count() == 1) entries.Add((i, one.First().Key, one.First().Value));
                else errors.Add(new($"{path}[{i}]", $"expected one 'key: change' entry, such as trainable.optimizer.lr: \"*0.5\"; found {Found(item)}"));
                i++;
            }
        }
        else
        {
            errors.Add(new(path, $"expected a list of 'key: change' entries, such as - trainable.optimizer.lr: \"*0.5\"; found {Found(value)}"));
            return null;
        }
        var changes = new List<ParameterChange>();
        foreach (var (i, key, v) in entries)
        {
            if (ParameterChange.TryParse(key, v, out var change, out var error)) changes.Add(change);
            else errors.Add(new($"{path}[{i}]", error));
        }
        return errors.Count == before ? new ChangeSet(changes) : null;
    }

    /// <summary>Reads <c>backoff</c>: a duration (constant wait) or a mapping of <c>type</c>, <c>delay</c>, <c>max_delay</c>.</summary>
    public static RestartBackoff? ReadBackoff(object? value, List<StabilityConfigError> errors, string path = "backoff")
    {
        ArgumentNullException.ThrowIfNull(errors);
        int before = errors.Count;
        if (!TryMapping(value, out var entries))
        {
            if (TryParseDuration(value, out var delay, out var error)) return new RestartBackoff { Delay = delay };
            bool outOfRange = error.StartsWith("must", StringComparison.Ordinal);
            errors.Add(new(path, outOfRange ? error : $"expected a duration (such as 30s) or a mapping of type, delay and max_delay; found {Found(value)}"));
            return null;
        }
        var backoff = new RestartBackoff();
        foreach (var (key, v) in entries)
        {
            string at = RestartBackoff.Join(path, key);
            string? error = null;
            switch (key)
            {
                case "type":
                    if (TryParseBackoffType(v, out var type, out error)) backoff = backoff with { Type = type };
                    break;
                case "delay":
                    if (TryParseDuration(v, out var delay, out error)) backoff = backoff with { Delay = delay };
                    break;
                case "max_delay":
                    if (TryParseDuration(v, out var max, out error)) backoff = backoff with { MaxDelay = max };
                    break;
                default:
                    error = $"unknown key; expected one of {string.Join(", ", BackoffKeys)}";
                    break;
            }
            if (error is not null) errors.Add(new(at, error));
        }
        if (errors.Count == before) errors.AddRange(backoff.Validate(path));
        return errors.Count == before ? backoff : null;
    }

    /// <summary>Reads the monitor's settings (snake_case keys of <see cref="StabilityOptions"/>); keys not given keep their defaults.</summary>
    public static StabilityOptions ReadOptions(IEnumerable<KeyValuePair<string, object?>> entries, List<StabilityConfigError> errors, string path = "")
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(errors);
        int before = errors.Count;
        var o = new StabilityOptions();
        foreach (var (key, value) in entries)
        {
            string at = RestartBackoff.Join(path, key);
            string? error = null;
            long n = 0;
            double x = 0;
            bool integer = key is "warmup_steps" or "flip_window" or "min_exponent" or "max_exponent" or "drift_window" or "drift_min_change" or "spike_window";
            bool ok = !OptionKeys.Contains(key) ? Fail($"unknown key; expected one of {string.Join(", ", OptionKeys)}", out error)
                : integer ? TryInteger(value, out n, out error) && (n is >= int.MinValue and <= int.MaxValue || Fail($"{n} is out of range", out error))
                : TryNumber(value, out x, out error);
            if (!ok)
            {
                errors.Add(new(at, error!));
                continue;
            }
            int i = (int)n;
            o = key switch
            {
                "warmup_steps" => o with { WarmupSteps = i },
                "flip_window" => o with { FlipWindow = i },
                "max_flip_rate" => o with { MaxFlipRate = x },
                "min_exponent" => o with { MinExponent = i },
                "max_exponent" => o with { MaxExponent = i },
                "drift_window" => o with { DriftWindow = i },
                "drift_min_change" => o with { DriftMinChange = i },
                "spike_window" => o with { SpikeWindow = i },
                "loss_spike_factor" => o with { LossSpikeFactor = x },
                _ => o with { GradNormFactor = x },
            };
        }
        if (errors.Count == before)
            errors.AddRange(o.Validate().Select(e => e with { KeyPath = RestartBackoff.Join(path, e.KeyPath) }));
        return o;
    }

    // ---- helpers ----

    private static bool TryChoice<T>(object? value, (string Word, T Value)[] choices, out T result, [NotNullWhen(false)] out string? error)
    {
        foreach (var (word, v) in choices)
        {
            if (value is string s && s == word)
            {
                result = v;
                error = null;
                return true;
            }
        }
        result = default!;
        error = $"expected one of {string.Join(", ", choices.Select(c => c.Word))}; found {Found(value)}";
        return false;
    }

    private static bool TryInteger(object? value, out long n, [NotNullWhen(false)] out string? error)
    {
        error = null;
        switch (value)
        {
            case long l: n = l; return true;
            case int i: n = i; return true;
            default:
                n = 0;
                error = $"expected an integer, found {Found(value)}";
                return false;
        }
    }

    private static bool TryNumber(object? value, out double x, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (value is not bool && value is not string && value is not null && ParameterValues.TryGetDouble(value, out x) && double.IsFinite(x)) return true;
        x = double.NaN;
        error = $"expected a number, found {Found(value)}";
        return false;
    }

    private static bool Fail(string message, out string? error)
    {
        error = message;
        return false;
    }

    private static bool TryMapping(object? value, out IEnumerable<KeyValuePair<string, object?>> entries)
    {
        entries = value as IEnumerable<KeyValuePair<string, object?>> ?? [];
        return value is IEnumerable<KeyValuePair<string, object?>>;
    }

    /// <summary>What was found, for messages: <c>'restrat'</c>, <c>the integer 3</c>, <c>nothing (null)</c>, <c>a mapping</c>, <c>a list of 2 item(s)</c>.</summary>
    internal static string Found(object? value) => value switch
    {
        null => "nothing (null)",
        string s => $"'{s}'",
        IEnumerable<KeyValuePair<string, object?>> => "a mapping",
        IEnumerable e => $"a list of {e.Cast<object?>().Count()} item(s)",
        _ => ParameterChange.Describe(value),
    };

    private static string F(double x) => x.ToString("0.###", CultureInfo.InvariantCulture);
}
