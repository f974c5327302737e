using System.Globalization;
using Sweeper.Core.Search;
using Sweeper.Core.Spec;

namespace Sweeper.Core.Trials.Synthetic;

/// <summary>Defaults of <see cref="SyntheticTrainable"/> that a trial's parameters can override.</summary>
public sealed record SyntheticTrainableOptions
{
    /// <summary>Standard deviation of the per-epoch noise on test accuracy (train metrics get half).</summary>
    public double NoiseStd { get; init; } = 0.005;

    /// <summary>Simulated wall-clock time per epoch; zero (the default) makes trials instantaneous.</summary>
    public TimeSpan EpochDuration { get; init; } = TimeSpan.Zero;
}

/// <summary>
/// The settings a synthetic run is simulated from, resolved from a trial config. Each comes from the
/// trial's parameters (dotted key) if swept, else from the trainable spec, else from the options:
/// <list type="table">
/// <item><term><c>trainable.optimizer.lr</c></term><description>learning rate (&gt; 0)</description></item>
/// <item><term><c>trainable.optimizer.name</c></term><description><c>sgd</c> or <c>adam</c></description></item>
/// <item><term><c>trainable.optimizer.momentum</c></term><description>SGD momentum in [0, 1)</description></item>
/// <item><term><c>trainable.width</c></term><description>width multiplier (&gt; 0)</description></item>
/// <item><term><c>trainable.epochs</c></term><description>number of epochs (≥ 1)</description></item>
/// <item><term><c>trainable.lr_schedule</c></term><description><c>cosine</c> or <c>constant</c> (only the reported lr)</description></item>
/// <item><term>any key whose last segment is <c>bits</c></term><description>weight bits (e.g. <c>quantization.bits</c>); absent: float weights</description></item>
/// <item><term><c>trainable.synthetic.noise_std</c></term><description>noise on test accuracy</description></item>
/// <item><term><c>trainable.synthetic.epoch_seconds</c></term><description>simulated seconds per epoch</description></item>
/// </list>
/// </summary>
public sealed record SyntheticSettings
{
    public const string LrKey = "trainable.optimizer.lr";
    public const string OptimizerKey = "trainable.optimizer.name";
    public const string MomentumKey = "trainable.optimizer.momentum";
    public const string WidthKey = "trainable.width";
    public const string EpochsKey = "trainable.epochs";
    public const string LrScheduleKey = "trainable.lr_schedule";
    public const string BitsSegment = "bits";
    public const string NoiseStdKey = "trainable.synthetic.noise_std";
    public const string EpochSecondsKey = "trainable.synthetic.epoch_seconds";

    public double Lr { get; init; } = 0.05;
    public string Optimizer { get; init; } = "sgd";
    public double Momentum { get; init; } = 0.9;
    public double Width { get; init; } = 0.25;
    public int? Bits { get; init; }
    public int Epochs { get; init; } = 1;
    public string LrSchedule { get; init; } = "cosine";
    public double NoiseStd { get; init; } = 0.005;
    public TimeSpan EpochDuration { get; init; } = TimeSpan.Zero;

    /// <summary>Resolves the settings of <paramref name="config"/>; throws <see cref="ArgumentException"/> on out-of-range values.</summary>
    public static SyntheticSettings From(TrialConfig config, SyntheticTrainableOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new SyntheticTrainableOptions();
        var p = config.Parameters;
        var t = config.Trainable;
        object? bits = p.LastOrDefault(kv => kv.Key == BitsSegment || kv.Key.EndsWith("." + BitsSegment, StringComparison.Ordinal)).Value;
        var settings = new SyntheticSettings
        {
            // The trainable spec is the truth (parameters are applied to it, and so are a restart's changes);
            // a parameter counts only where it still differs from the spec's default, as in hand-made configs.
            Lr = Prefer(t.Optimizer.Lr, new OptimizerSpec().Lr, Number(p, LrKey)),
            Optimizer = t.Optimizer.Name != new OptimizerSpec().Name ? t.Optimizer.Name : Text(p, OptimizerKey) ?? t.Optimizer.Name,
            Momentum = Prefer(t.Optimizer.Momentum, new OptimizerSpec().Momentum, Number(p, MomentumKey)),
            Width = Prefer(t.Width, DefaultWidth, Number(p, WidthKey)),
            Epochs = (int?)Number(p, EpochsKey) ?? t.Epochs,
            LrSchedule = Text(p, LrScheduleKey) ?? t.LrSchedule,
            Bits = bits is null ? null : (int)ToDouble(bits, "bits"),
            NoiseStd = Number(p, NoiseStdKey) ?? options.NoiseStd,
            EpochDuration = Number(p, EpochSecondsKey) is { } s ? TimeSpan.FromSeconds(s) : options.EpochDuration,
        };
        settings.Validate();
        return settings;
    }

    public void Validate()
    {
        if (!(Lr > 0) || !double.IsFinite(Lr)) throw new ArgumentException($"synthetic trainable: lr must be positive, got {Lr}");
        if (!(Width > 0) || !double.IsFinite(Width)) throw new ArgumentException($"synthetic trainable: width must be positive, got {Width}");
        if (Momentum is < 0 or >= 1 || double.IsNaN(Momentum)) throw new ArgumentException($"synthetic trainable: momentum must be in [0, 1), got {Momentum}");
        if (Epochs < 1) throw new ArgumentException($"synthetic trainable: epochs must be at least 1, got {Epochs}");
        if (Bits is < 1) throw new ArgumentException($"synthetic trainable: bits must be at least 1, got {Bits}");
        if (NoiseStd < 0 || !double.IsFinite(NoiseStd)) throw new ArgumentException($"synthetic trainable: noise_std must be non-negative, got {NoiseStd}");
        if (EpochDuration < TimeSpan.Zero) throw new ArgumentException($"synthetic trainable: epoch duration must not be negative, got {EpochDuration}");
        if (Optimizer is not ("sgd" or "adam")) throw new ArgumentException($"synthetic trainable: optimizer must be sgd or adam, got '{Optimizer}'");
    }

    private static readonly double DefaultWidth = new TrainableSpec { Dataset = new DatasetSpec() }.Width;

    private static double Prefer(double fromSpec, double specDefault, double? fromParameters) =>
        fromSpec != specDefault || fromParameters is null ? fromSpec : fromParameters.Value;

    private static object? Find(IReadOnlyList<KeyValuePair<string, object>> parameters, string key) =>
        parameters.LastOrDefault(kv => string.Equals(kv.Key, key, StringComparison.Ordinal)).Value;

    private static double? Number(IReadOnlyList<KeyValuePair<string, object>> parameters, string key) =>
        Find(parameters, key) is { } v ? ToDouble(v, key) : null;

    private static string? Text(IReadOnlyList<KeyValuePair<string, object>> parameters, string key) =>
        Find(parameters, key) is { } v ? ParameterValues.Format(v) : null;

    private static double ToDouble(object value, string key)
    {
        if (ParameterValues.TryGetDouble(value, out double d)) return d;
        if (value is string s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) return d;
        throw new ArgumentException($"synthetic trainable: {key} must be a number, got '{ParameterValues.Format(value)}'");
    }
}
