namespace Sweeper.Core.Stability;

/// <summary>
/// Defaults and limits of the stability monitor and the restart policy, in one place (as Polly's
/// <c>RetryConstants</c>). <see cref="StabilityOptions"/> and <see cref="StabilityRule"/> explain each choice.
/// </summary>
public static class StabilityConstants
{
    // Monitor.
    public const int DefaultWarmupSteps = 200;
    public const int DefaultFlipWindow = 100;
    public const double DefaultMaxFlipRate = 0.2;
    public const int DefaultMinExponent = -20;
    public const int DefaultMaxExponent = 8;
    public const int DefaultDriftWindow = 500;
    public const int DefaultDriftMinChange = 2;
    public const int DefaultSpikeWindow = 100;
    public const double DefaultLossSpikeFactor = 10;
    public const double DefaultGradNormFactor = 100;

    /// <summary>Largest window of any kind: the monitor keeps about 4 bytes × channels × window per layer.</summary>
    public const int MaxWindow = 100_000;

    // Policy.
    public const int DefaultMaxRestarts = 3;

    /// <summary>Largest <c>max_restarts</c> a rule may declare.</summary>
    public const int MaxRestartsLimit = 100;

    /// <summary>The restart delay is capped here whatever the backoff (as Polly caps its delays).</summary>
    public static readonly TimeSpan MaxDelayLimit = TimeSpan.FromDays(1);

    /// <summary>The learning-rate key the default <c>diverged</c> rule halves.</summary>
    public const string LearningRateKey = "trainable.optimizer.lr";

    // Spec words.
    public const string ActionRestart = "restart";
    public const string ActionStop = "stop";
    public const string ActionContinue = "continue";
    public const string FromLastHealthy = "last_healthy";
    public const string FromStart = "start";
    public const string FromLatest = "latest";
    public const string BackoffConstant = "constant";
    public const string BackoffLinear = "linear";
    public const string BackoffExponential = "exponential";
}
