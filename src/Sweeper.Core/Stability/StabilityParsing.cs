using Sweeper.Core.Model;

namespace Sweeper.Core.Stability;

/// <summary>
/// The spec's words for stability actions, restart origins and backoff types, and the duration format of
/// messages. The <c>stability:</c> section itself is read by the spec loader from the schema's key tables,
/// like every other section (Spec's <c>SpecSchema</c>).
/// </summary>
public static class StabilityParsing
{
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

    /// <summary><c>0s</c>, <c>500ms</c>, <c>30s</c>, <c>1.5s</c>, <c>5m</c>, <c>24h</c>: the shortest exact form.</summary>
    public static string FormatDuration(TimeSpan d) => DurationText.Format(d);
}
