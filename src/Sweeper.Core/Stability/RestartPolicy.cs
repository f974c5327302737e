using System.Collections.Immutable;
using Sweeper.Core.Model;

namespace Sweeper.Core.Stability;

/// <summary>
/// The restarts a trial has had for instability, in order (one verdict kind each). Immutable; the trial's
/// supervisor keeps it with the trial (journal it with the attempt) and passes it to every decision.
/// </summary>
public sealed record RestartHistory
{
    private RestartHistory(ImmutableArray<StabilityKind> kinds) => Kinds = kinds;

    public static RestartHistory Empty { get; } = new(ImmutableArray<StabilityKind>.Empty);

    /// <summary>A history from journaled kinds, in the order the restarts happened.</summary>
    public static RestartHistory Of(IEnumerable<StabilityKind> kinds)
    {
        var array = kinds.ToImmutableArray();
        if (array.Any(k => k == StabilityKind.Healthy)) throw new ArgumentException("a restart is never for a healthy verdict", nameof(kinds));
        return new(array);
    }

    /// <summary>The verdict kind of each restart, oldest first.</summary>
    public ImmutableArray<StabilityKind> Kinds { get; }

    /// <summary>Restarts so far.</summary>
    public int Total => Kinds.Length;

    /// <summary>The current attempt (1-based): 1 before any restart.</summary>
    public int Attempt => Kinds.Length + 1;

    /// <summary>Restarts so far for <paramref name="kind"/>.</summary>
    public int Count(StabilityKind kind)
    {
        int n = 0;
        foreach (var k in Kinds) if (k == kind) n++;
        return n;
    }

    /// <summary>The history after one more restart for <paramref name="kind"/>.</summary>
    public RestartHistory After(StabilityKind kind)
    {
        if (kind == StabilityKind.Healthy) throw new ArgumentException("a restart is never for a healthy verdict", nameof(kind));
        return new(Kinds.Add(kind));
    }

    public bool Equals(RestartHistory? other) => other is not null && Kinds.SequenceEqual(other.Kinds);
    public override int GetHashCode() => Kinds.Aggregate(Kinds.Length, (h, k) => HashCode.Combine(h, k));
    public override string ToString() => Kinds.Length == 0 ? "no restarts" : string.Join(", ", Kinds.Select(k => k.Word()));
}

/// <summary>
/// What the trial's supervisor does next: continue, stop (with a reason for the journal), or restart from a
/// checkpoint with changes after a delay.
/// </summary>
/// <param name="Action">Continue, Stop or Restart.</param>
/// <param name="Reason">One line: the rule applied and the verdict's evidence.</param>
/// <param name="Verdict">The verdict kind decided on.</param>
/// <param name="From">Restart only: where the next attempt starts (already <see cref="RestartFrom.Start"/> when there was no healthy checkpoint).</param>
/// <param name="Changes">Restart only: the rule's changes, to be applied once more on top of the previous attempt's values (see <see cref="RestartPolicy.ParametersFor"/>).</param>
/// <param name="Restart">Restart only: which restart for this verdict kind this is (1-based).</param>
/// <param name="Attempt">Restart only: the next attempt's number over all kinds (1 is the original run).</param>
/// <param name="Delay">Restart only: the wait before restarting.</param>
/// <param name="History">The restart history after this action (one longer for a restart, unchanged otherwise).</param>
public sealed record StabilityAction(
    StabilityActionKind Action,
    string Reason,
    StabilityKind Verdict,
    RestartFrom? From,
    ChangeSet Changes,
    int Restart,
    int Attempt,
    TimeSpan Delay,
    RestartHistory History)
{
    public bool IsContinue => Action == StabilityActionKind.Continue;
    public bool IsStop => Action == StabilityActionKind.Stop;
    public bool IsRestart => Action == StabilityActionKind.Restart;

    public override string ToString() => $"{StabilityParsing.Word(Action)}: {Reason}";
}

/// <summary>
/// Turns verdicts into actions under a <see cref="StabilityPolicy"/>. Pure: the action is a function of the
/// verdict, the restart history and whether a healthy checkpoint exists; it never waits, reads a clock or touches
/// a trial. (Polly's split: the policy is the options, this class the strategy, <see cref="RestartBackoff.DelayFor"/>
/// the delay math.)
/// </summary>
public sealed class RestartPolicy
{
    public RestartPolicy(StabilityPolicy? policy = null)
    {
        Policy = policy ?? new StabilityPolicy();
        var errors = Policy.Validate();
        if (errors.Count > 0) throw new ArgumentException("invalid stability policy: " + string.Join("; ", errors), nameof(policy));
    }

    public StabilityPolicy Policy { get; }

    /// <summary>
    /// Decides what to do about <paramref name="verdict"/>:
    /// <list type="bullet">
    /// <item>healthy → continue;</item>
    /// <item>the kind's rule says continue or stop → that, with the verdict's reason;</item>
    /// <item>restart, with fewer than max_restarts restarts of this kind in <paramref name="history"/> → restart n
    /// (n = those restarts + 1) from the rule's <c>from</c> (from the start when <c>last_healthy</c> is asked for
    /// and <paramref name="hasHealthyCheckpoint"/> is false, or <c>latest</c> and <paramref name="hasCheckpoint"/> is
    /// false), with the rule's changes, after the backoff's delay for n;</item>
    /// <item>restart, with max_restarts reached → stop, saying so.</item>
    /// </list>
    /// </summary>
    public StabilityAction Decide(StabilityVerdict verdict, RestartHistory history, bool hasHealthyCheckpoint = true, bool hasCheckpoint = true)
    {
        ArgumentNullException.ThrowIfNull(history);
        var kind = verdict.Kind;
        if (kind == StabilityKind.Healthy)
            return new(StabilityActionKind.Continue, verdict.Reason, kind, null, ChangeSet.Empty, 0, 0, TimeSpan.Zero, history);

        var rule = Policy.For(kind);
        string name = kind.Word();
        string evidence = $"{name} at step {verdict.Step}: {verdict.Reason}";
        switch (rule.Action)
        {
            case StabilityActionKind.Continue:
                return new(StabilityActionKind.Continue, $"{evidence} (policy: continue)", kind, null, ChangeSet.Empty, 0, 0, TimeSpan.Zero, history);
            case StabilityActionKind.Stop:
                return new(StabilityActionKind.Stop, $"{evidence} (policy: stop)", kind, null, ChangeSet.Empty, 0, 0, TimeSpan.Zero, history);
        }

        int done = history.Count(kind);
        if (done >= rule.MaxRestarts)
            return new(StabilityActionKind.Stop,
                $"{evidence} (policy: restart, but max_restarts {rule.MaxRestarts} for {name} is reached)",
                kind, null, ChangeSet.Empty, 0, 0, TimeSpan.Zero, history);

        int restart = done + 1;
        var from = rule.From switch
        {
            RestartFrom.LastHealthy when !hasHealthyCheckpoint => RestartFrom.Start,
            RestartFrom.Latest when !hasCheckpoint => RestartFrom.Start,
            var f => f,
        };
        string where = (rule.From, from) switch
        {
            (RestartFrom.LastHealthy, RestartFrom.Start) => "from the start (no healthy checkpoint)",
            (RestartFrom.Latest, RestartFrom.Start) => "from the start (no checkpoint yet)",
            (_, RestartFrom.Start) => "from the start",
            (_, RestartFrom.Latest) => "from the newest checkpoint",
            _ => "from the last healthy checkpoint",
        };
        var delay = rule.Backoff.DelayFor(restart);
        string wait = delay > TimeSpan.Zero ? $" after {StabilityParsing.FormatDuration(delay)}" : "";
        string changes = rule.Changes.Count == 0 ? "no changes" : rule.Changes.ToString();
        var next = history.After(kind);
        return new(StabilityActionKind.Restart,
            $"{evidence} (policy: restart {restart} of {rule.MaxRestarts} for {name} {where} with {changes}{wait})",
            kind, from, rule.Changes, restart, next.Attempt, delay, next);
    }

    /// <summary>
    /// <see cref="Decide(StabilityVerdict, RestartHistory, bool, bool)"/> for a supervisor that counts restarts per kind:
    /// <paramref name="restartsSoFar"/> is the number of restarts already made for this verdict's kind.
    /// </summary>
    public StabilityAction Decide(StabilityVerdict verdict, int restartsSoFar, bool hasHealthyCheckpoint = true, bool hasCheckpoint = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(restartsSoFar);
        var history = verdict.IsHealthy ? RestartHistory.Empty : RestartHistory.Of(Enumerable.Repeat(verdict.Kind, restartsSoFar));
        return Decide(verdict, history, hasHealthyCheckpoint, hasCheckpoint);
    }

    /// <summary>
    /// The values of every key changed by the restarts in <paramref name="history"/>: starting from the original
    /// values, each restart applies its kind's changes once, in the order the restarts happened (so a rule's
    /// changes add up over its restarts, and two kinds' changes compose in time order).
    /// </summary>
    /// <exception cref="ArgumentException">A key names nothing, or a change does not fit its value.</exception>
    public IReadOnlyList<KeyValuePair<string, object?>> ParametersFor(RestartHistory history, ParameterLookup originals)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(originals);
        var state = new ChangeSet.ChangeState(originals);
        var perKind = new Dictionary<StabilityKind, int>();
        foreach (var kind in history.Kinds)
        {
            int n = perKind[kind] = perKind.GetValueOrDefault(kind) + 1;
            if (!state.ApplyOnce(Policy.For(kind).Changes, n, out var error))
                throw new ArgumentException($"{kind.Word()}: {error}", nameof(originals));
        }
        return state.Values();
    }

    /// <inheritdoc cref="ParametersFor(RestartHistory, ParameterLookup)"/>
    public IReadOnlyList<KeyValuePair<string, object?>> ParametersFor(RestartHistory history, IReadOnlyList<KeyValuePair<string, object>> originals) =>
        ParametersFor(history, ChangeSet.Lookup(originals));

    /// <summary>
    /// For a spec validator: applies each restart rule's changes up to its max_restarts times to the original values
    /// and reports every rule whose changes do not fit (unknown key, wrong type, an integer leaving the integers).
    /// </summary>
    public IReadOnlyList<StabilityConfigError> Check(ParameterLookup originals)
    {
        ArgumentNullException.ThrowIfNull(originals);
        var errors = new List<StabilityConfigError>();
        foreach (var kind in StabilityKinds.Unhealthy)
        {
            var rule = Policy.For(kind);
            if (rule.Action != StabilityActionKind.Restart || rule.Changes.Count == 0) continue;
            if (rule.Changes.Check(originals, rule.MaxRestarts) is { } error)
                errors.Add(new($"{kind.Word()}.changes", error));
        }
        return errors;
    }
}
