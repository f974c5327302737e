using System.Globalization;
using Sweeper.Core.Model;
using Sweeper.Core.Stability;

namespace Sweeper.Core.Spec;

/// <summary>
/// The kinds of value a setting takes. <see cref="Duration"/>: a number of seconds, or text with a unit (<c>500ms</c>,
/// <c>30s</c>, <c>1.5m</c>, <c>2h</c>). <see cref="Changes"/>: a list of <c>key: change</c> entries (see
/// <see cref="ParameterChange"/>), or one mapping of them. <see cref="StringList"/>: a list of strings (a program's
/// arguments). <see cref="Any"/>: a string, number or boolean, typed as YAML reads it (<c>trainable.args.*</c>).
/// </summary>
public enum SettingType { String, Number, Integer, Boolean, Duration, Changes, StringList, Any }

/// <summary>
/// The allowed numbers of a numeric setting (seconds for a duration): <see cref="Text"/> for the reference
/// ("1..10000", "in (0, 4]", "≥ 1"), <see cref="Check"/> for the loader (null, or a message such as
/// "must be between 1 and 10000, found 0").
/// </summary>
public sealed record ValueRange(string Text, Func<double, string?> Check)
{
    /// <summary>The lower bound, for a JSON Schema (null: none, or not a plain bound); see <see cref="LowOpen"/>.</summary>
    public double? Low { get; init; }
    /// <summary>Whether <see cref="Low"/> itself is excluded.</summary>
    public bool LowOpen { get; init; }
    /// <summary>The upper bound, for a JSON Schema (null: none); see <see cref="HighOpen"/>.</summary>
    public double? High { get; init; }
    /// <summary>Whether <see cref="High"/> itself is excluded.</summary>
    public bool HighOpen { get; init; }

    /// <summary>lo ≤ v ≤ hi: "must be between lo and hi".</summary>
    public static ValueRange Between(double lo, double hi) =>
        new($"{N(lo)}..{N(hi)}", v => v >= lo && v <= hi ? null : $"must be between {N(lo)} and {N(hi)}, found {v}") { Low = lo, High = hi };

    /// <summary>An interval with open or closed ends: "must be in (lo, hi]".</summary>
    public static ValueRange In(double lo, double hi, bool lowOpen, bool highOpen)
    {
        var text = $"{(lowOpen ? '(' : '[')}{N(lo)}, {N(hi)}{(highOpen ? ')' : ']')}";
        return new("in " + text, v => (lowOpen ? v > lo : v >= lo) && (highOpen ? v < hi : v <= hi) ? null : $"must be in {text}, found {v}")
        {
            Low = lo, LowOpen = lowOpen, High = hi, HighOpen = highOpen,
        };
    }

    /// <summary>v ≥ lo: "must be at least lo".</summary>
    public static ValueRange AtLeast(double lo) => new($"≥ {N(lo)}", v => v >= lo ? null : $"must be at least {N(lo)}, found {v}") { Low = lo };

    /// <summary>v &gt; lo: "must be greater than lo".</summary>
    public static ValueRange Above(double lo) => new($"> {N(lo)}", v => v > lo ? null : $"must be greater than {N(lo)}, found {v}") { Low = lo, LowOpen = true };

    /// <summary>The same range, and within 32-bit integers (for settings held as <see cref="int"/>).</summary>
    public ValueRange Int32() => this with
    {
        Check = v => Check(v) ?? (v is >= int.MinValue and <= int.MaxValue ? null : $"must be between {int.MinValue} and {int.MaxValue}, found {v}"),
        Low = Math.Max(Low ?? int.MinValue, int.MinValue),
        High = Math.Min(High ?? int.MaxValue, int.MaxValue),
    };

    internal static string N(double x) => x.ToString("0.#########", CultureInfo.InvariantCulture);
}

/// <summary>
/// One leaf key of the spec: its dotted path, type, constraints, documentation and how it is applied to a
/// <see cref="SweepSpec"/>. The same table binds the YAML file, applies a trial's swept parameters and renders the key
/// tables of docs/spec.md (<see cref="SpecReference"/>), so all three follow the same rules.
/// </summary>
/// <param name="Description">The reference's "meaning" column (Markdown).</param>
/// <param name="Default">The reference's "default" column (Markdown); <c>required</c> for required keys.</param>
/// <param name="Alias">Another name the key may be written under (e.g. <c>change</c> for <c>changes</c>).</param>
public sealed record Setting(
    string Path,
    SettingType Type,
    string Description,
    Func<SweepSpec, object?, SweepSpec> Apply,
    bool Required = false,
    bool Nullable = false,
    IReadOnlyList<string>? Choices = null,
    ValueRange? Range = null,
    string? Default = null,
    string? Alias = null)
{
    /// <summary>Trainable settings can be swept by <c>parameters</c>.</summary>
    public bool Sweepable => Path.StartsWith("trainable.", StringComparison.Ordinal) && Type != SettingType.StringList;

    /// <summary>The last segment of <see cref="Path"/>.</summary>
    public string Key => Path[(Path.LastIndexOf('.') + 1)..];

    /// <summary>Human wording of the expected value, for error messages.</summary>
    public string Expected => Choices is { Count: > 0 }
        ? "one of " + string.Join(", ", Choices)
        : Type switch
        {
            SettingType.Number => "a number",
            SettingType.Integer => "an integer",
            SettingType.Boolean => "true or false",
            SettingType.Duration => "a duration such as 500ms, 30s, 5m or 1h (or a number of seconds)",
            SettingType.Changes => "a list of 'key: change' entries, such as - trainable.optimizer.lr: \"*0.5\"",
            SettingType.StringList => "a list of strings, such as [python3, train.py, --lr, \"${trainable.optimizer.lr}\"]",
            SettingType.Any => "a string, number or boolean",
            _ => "a string",
        } + (Nullable ? " or null" : "");

    /// <summary>Converts a YAML scalar to this setting's value, or returns an error message.</summary>
    public object? Convert(YScalar scalar, out string? error)
    {
        error = null;
        if (scalar.IsNull)
        {
            if (Nullable) return null;
            error = $"expected {Expected}, found nothing (null)";
            return null;
        }
        object? value = null;
        switch (Type)
        {
            case SettingType.String:
                value = scalar.Value;
                break;
            case SettingType.Number:
                if (!scalar.Quoted && double.TryParse(scalar.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
                    value = d;
                break;
            case SettingType.Integer:
                if (!scalar.Quoted && long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
                    value = l;
                break;
            case SettingType.Boolean:
                if (!scalar.Quoted && scalar.Value is "true" or "false") value = scalar.Value == "true";
                break;
            case SettingType.Duration:
                if (SpecDuration.TryParseSeconds(scalar.Value, out var seconds)) value = seconds;
                break;
            case SettingType.Any:
                value = Plain(scalar);
                break;
        }
        if (value is null)
        {
            error = $"expected {Expected}, found {Describe(scalar)}";
            return null;
        }
        error = Check(value);
        if (error is not null) return null;
        return Type == SettingType.Duration ? SpecDuration.FromSeconds((double)value) : value;
    }

    /// <summary>Checks a typed value against the choices and range; null when it is valid.</summary>
    public string? Check(object value)
    {
        if (Choices is { Count: > 0 } && value is string s && !Choices.Contains(s))
            return $"unknown value '{s}'; expected {Expected}";
        if (Range is not null && value is double or long)
            return Range.Check(System.Convert.ToDouble(value, CultureInfo.InvariantCulture));
        if (Range is not null && value is TimeSpan t)
            return Range.Check(t.TotalSeconds);
        return null;
    }

    /// <summary>A scalar typed as YAML reads it: an integer (long), a number (double), true/false, or else text.</summary>
    public static object Plain(YScalar s) =>
        !s.Quoted && long.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l
        : !s.Quoted && double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d
        : !s.Quoted && s.Value is "true" or "false" ? s.Value == "true"
        : s.Value;

    internal static string Describe(YScalar scalar) => scalar.Quoted ? $"the string \"{scalar.Value}\"" : $"'{scalar.Value}'";
}

/// <summary>
/// A key whose value is a mapping of further keys.
/// </summary>
/// <param name="Separate">Read by its own binder (<c>parameters</c>, <c>variants</c>), not key by key.</param>
/// <param name="Shorthand">A key of this section that a scalar may stand for: <c>backoff: 30s</c> is <c>backoff: {delay: 30s}</c>.</param>
/// <param name="Enter">Applied before the section's keys when the section is written (a rule starts from a blank rule).</param>
/// <param name="NullMeansAbsent">A key written with no value (<c>stability:</c>) is as if it were not written.</param>
public sealed record Section(
    string Path,
    string Description = "",
    bool Required = false,
    string? Default = null,
    bool Separate = false,
    string? Shorthand = null,
    Func<SweepSpec, SweepSpec>? Enter = null,
    bool NullMeansAbsent = false);

/// <summary>Durations in a spec: a number of seconds, or text with a unit.</summary>
public static class SpecDuration
{
    /// <summary>
    /// <c>500ms</c>, <c>30s</c>, <c>1.5m</c>, <c>2h</c>, or a bare number of seconds (<c>30</c>, <c>"10"</c>); spaces
    /// around the number and the unit are allowed. Any finite number, negative ones included (the range rejects them).
    /// </summary>
    public static bool TryParseSeconds(string text, out double seconds)
    {
        seconds = double.NaN;
        string t = text.Trim();
        (string number, double unit) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 0.001)
            : t.EndsWith('s') ? (t[..^1], 1)
            : t.EndsWith('m') ? (t[..^1], 60)
            : t.EndsWith('h') ? (t[..^1], 3600)
            : (t, 1.0);
        number = number.Trim();
        if (number.Length == 0 || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || !double.IsFinite(n * unit))
            return false;
        seconds = n * unit;
        return true;
    }

    public static TimeSpan FromSeconds(double seconds) => TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));

    /// <inheritdoc cref="DurationText.Format"/>
    public static string Format(TimeSpan d) => DurationText.Format(d);

    /// <summary>0 to <paramref name="max"/>: "must not be negative" / "must be at most 24h", found as a duration.</summary>
    public static ValueRange Range(TimeSpan max) => new($"0..{Format(max)}", v =>
        v < 0 ? $"must not be negative, found {FormatSeconds(v)}"
        : v > max.TotalSeconds ? $"must be at most {Format(max)}, found {FormatSeconds(v)}"
        : null) { Low = 0, High = max.TotalSeconds };

    private static string FormatSeconds(double v) => Math.Abs(v) < 1e12 ? Format(FromSeconds(v)) : DurationText.Number(v) + "s";
}

/// <summary>Every key a sweep spec may hold (<c>parameters</c> and <c>variants</c> are read by their own binders).</summary>
public static class SpecSchema
{
    public static readonly IReadOnlyList<string> Models = ["mobilenet_v1", "mobilenet_v2", "synthetic"];
    /// <summary>Models that need no dataset.</summary>
    public static readonly IReadOnlyList<string> DataFreeModels = ["synthetic", TrainableSpec.CommandModel];
    public static readonly IReadOnlyList<string> Algorithms = ["grid", "random", "tpe"];
    public static readonly IReadOnlyList<string> Schedulers = ["fifo", "asha", "median_stopping"];
    public static readonly IReadOnlyList<string> Datasets = [.. DatasetFormats.Known.Keys];
    public static readonly IReadOnlyList<string> Optimizers = ["sgd", "adam"];
    public static readonly IReadOnlyList<string> LrSchedules = ["cosine", "constant"];
    public static readonly IReadOnlyList<string> Modes = ["max", "min"];
    public static readonly IReadOnlyList<string> ObjectiveMetrics =
        [MetricNames.ValAccuracy, MetricNames.ValLoss, MetricNames.TestAccuracy, MetricNames.TestLoss, MetricNames.TrainAccuracy, MetricNames.TrainLoss];
    /// <summary>A stability rule's <c>action</c> words.</summary>
    public static readonly IReadOnlyList<string> StabilityActions = [StabilityConstants.ActionRestart, StabilityConstants.ActionStop, StabilityConstants.ActionContinue];
    /// <summary>A stability rule's <c>from</c> words.</summary>
    public static readonly IReadOnlyList<string> RestartFroms = [StabilityConstants.FromLastHealthy, StabilityConstants.FromLatest, StabilityConstants.FromStart];
    /// <summary>A restart backoff's <c>type</c> words.</summary>
    public static readonly IReadOnlyList<string> BackoffTypes = [StabilityConstants.BackoffConstant, StabilityConstants.BackoffLinear, StabilityConstants.BackoffExponential];

    /// <summary>Integers ≥ 1 (declared before the tables that use it: static fields initialise in order).</summary>
    private static readonly ValueRange Positive = ValueRange.AtLeast(1);

    public const string ParametersKey = "parameters";
    /// <summary>The model section: a built-in's name (its shorthand), or a plug-in's assembly and type.</summary>
    public const string ModelKey = "trainable.model";
    /// <summary>Free-form settings of a plug-in or program; <c>trainable.args.KEY</c> names one (sweepable, changeable).</summary>
    public const string ArgsKey = "trainable.args";
    /// <summary>A program run as the trial.</summary>
    public const string CommandKey = "trainable.command";
    public const string StabilityKey = "stability";
    /// <summary>The root section of named bundles of settings (<see cref="SweepSpec.Variants"/>).</summary>
    public const string VariantsKey = "variants";
    /// <summary>The parameter a <c>variants:</c> section adds: its value is a variant's name.</summary>
    public const string VariantParameter = "variant";
    /// <summary>The keys of a stability rule that apply only when its action is <c>restart</c>.</summary>
    public static readonly IReadOnlyList<string> RestartOnlyKeys = ["from", "changes", "max_restarts", "backoff"];

    /// <summary>Mapping sections: a key whose value is a mapping of further keys. Their order is the order keys are listed in.</summary>
    public static readonly IReadOnlyList<Section> Sections =
    [
        new("objective", "What \"better\" means.", Required: true),
        new("trainable", "What one trial trains.", Required: true),
        new(ModelKey, "The model: a built-in name, or a plug-in `{assembly, type}`. Required unless `command` is given.", Shorthand: "name",
            Default: "required unless `command`"),
        new(ArgsKey, "Free-form settings handed to a plug-in or a program (see below).", Default: "none", Separate: true),
        new("trainable.dataset"), new("trainable.optimizer"), new("trainable.synthetic"), new("trainable.quantizer"),
        new("search", "How configurations are chosen.", Default: "grid"),
        new("scheduler", "Whether weak trials are stopped early.", Default: "fifo"),
        new("stop", "When the whole sweep ends early.", Default: "none"),
        new("telemetry", "Where traces and metrics go.", Default: "`<run dir>/traces.jsonl`"),
        new("crashes", "Retries of a trial whose trainable throws.", Default: "2 retries"),
        new("resources", "Slots.", Default: "1 slot"),
        new("output", "Where run directories go.", Default: "`runs`"),
        new("checkpoint", "Checkpoints, for resuming trials on another worker or after a crash.", Default: "every epoch"),
        new(ParametersKey, "The swept keys and their domains (see below).", Default: "none (one trial)", Separate: true),
        new(VariantsKey, "Named bundles of trainable settings, searched as one more parameter, `variant` (see below).", Default: "none", Separate: true),
        new(StabilityKey, "What the monitor watches in every training step and what to do about each verdict (see below).",
            Default: "diverged: restart with lr × 0.5", NullMeansAbsent: true),
        new(StabilityKey + ".monitor", "The stability monitor's thresholds and windows."),
        .. StabilityKinds.Unhealthy.SelectMany(kind => new Section[]
        {
            new($"{StabilityKey}.{kind.Word()}", $"What to do about a {kind.Word()} verdict.", Enter: s => WithRule(s, kind, _ => new StabilityRule())),
            new($"{StabilityKey}.{kind.Word()}.backoff",
                "Wall time before the restarted attempt is queued again: a duration (a constant wait), or a mapping of `type`, `delay` and `max_delay`.",
                Default: "no wait", Shorthand: "delay"),
        }),
    ];

    public static readonly IReadOnlyList<Setting> Settings =
    [
        new("name", SettingType.String, "Names the sweep and its run directory `<output.dir>/<name>-<yyyyMMdd-HHmmss>`.",
            (s, v) => s with { Name = (string)v! }, Required: true),
        new("seed", SettingType.Integer, "Sweep seed. Searchers and every trial's seed (model init, data order) derive from it, so a spec is reproducible.",
            (s, v) => s with { Seed = (long)v! }, Default: "0"),
        new("objective.metric", SettingType.String,
            "The metric of a trial's last epoch that ranks trials; schedulers judge it every epoch and TPE learns from it. `val_*` needs `trainable.dataset.validation` " +
            "(models that read no data, `synthetic`, report it anyway). Selecting on `test_*` is allowed, but `sweeper validate` and `sweeper run` warn " +
            "(`warning: file:line:col: objective.metric: ...`): every choice the sweep makes then leaks the test set.",
            (s, v) => s with { Objective = s.Objective with { Metric = (string)v! } }, Required: true, Choices: ObjectiveMetrics),
        new("objective.mode", SettingType.String, "Whether larger (`max`) or smaller (`min`) is better.",
            (s, v) => s with { Objective = s.Objective with { Mode = (string)v! == "min" ? ObjectiveMode.Min : ObjectiveMode.Max } }, Choices: Modes, Default: "`max`"),
        new(ModelKey + ".name", SettingType.String,
            "A built-in network. `mobilenet_v1`: a depthwise-separable MobileNetV1 in TorchSharp. `mobilenet_v2`: MobileNetV2 (inverted residuals) in TorchSharp. " +
            "`synthetic`: a learning-curve simulator (no TorchSharp, no data) for dry runs, scheduler tests and cluster tests. " +
            "`model: mobilenet_v1` is short for `model: {name: mobilenet_v1}`; a swept `trainable.model` sweeps this key.",
            (s, v) => s with { Trainable = s.Trainable with { Model = (string)v!, Plugin = null } }, Choices: Models,
            Default: "required, unless `assembly` and `type` or `command` are given"),
        new(ModelKey + ".assembly", SettingType.String,
            "A model plug-in: the .NET assembly (`.dll`) holding `type`, relative to the spec's folder. Every worker must reach the same path. See \"Sweep your own model\" in the README.",
            (s, v) => s with { Trainable = s.Trainable with { Plugin = new ModelPluginSpec((string)v!, s.Trainable.Plugin?.Type ?? "") } }, Default: "none"),
        new(ModelKey + ".type", SettingType.String,
            "A model plug-in: the full name of a public type implementing `Sweeper.Training.Plugins.ISweeperModel` (a TorchSharp module; the quantizer, monitor and " +
            "export work as for the built-ins) or `Sweeper.Core.Trials.ITrainable` (a whole training loop).",
            (s, v) => s with { Trainable = s.Trainable with { Plugin = new ModelPluginSpec(s.Trainable.Plugin?.Assembly ?? "", (string)v!), Model = (string)v! } }, Default: "none"),
        new(CommandKey, SettingType.StringList,
            "A program run as the trial: its path and arguments. `${trainable.optimizer.lr}`, `${trainable.args.KEY}` (any trainable key), `${trial.id}`, `${trial.seed}` " +
            "and `${trial.epochs}` are replaced by the trial's values (`$${` is a literal `${`). It reports metrics as JSON lines on stdout; see \"Any program as a trial\" in the README.",
            (s, v) => s with { Trainable = s.Trainable with { Model = TrainableSpec.CommandModel, Command = CommandOf(s) with { Argv = (IReadOnlyList<string>)v! } } }, Default: "none"),
        new("trainable.workdir", SettingType.String, "`command`: the program's working directory, relative to the spec's folder.",
            (s, v) => s with { Trainable = s.Trainable with { Command = CommandOf(s) with { WorkingDirectory = (string)v! } } }, Default: "the spec's folder"),
        new("trainable.kill_grace", SettingType.Duration, "`command`: after SIGTERM to a stopped program's process group, the wait before SIGKILL.",
            (s, v) => s with { Trainable = s.Trainable with { Command = CommandOf(s) with { KillGrace = (TimeSpan)v! } } }, Range: SpecDuration.Range(TimeSpan.FromHours(1)), Default: "10s"),
        new("trainable.width", SettingType.Number, "Width multiplier of the network's channels.",
            (s, v) => s with { Trainable = s.Trainable with { Width = (double)v! } }, Range: ValueRange.In(0, 4, lowOpen: true, highOpen: false), Default: "0.25"),
        new("trainable.epochs", SettingType.Integer, "Training epochs per trial.",
            (s, v) => s with { Trainable = s.Trainable with { Epochs = (int)(long)v! } }, Required: true, Range: ValueRange.Between(1, 10000)),
        new("trainable.batch_size", SettingType.Integer, "Mini-batch size.",
            (s, v) => s with { Trainable = s.Trainable with { BatchSize = (int)(long)v! } }, Range: ValueRange.Between(1, 65536), Default: "64"),
        new("trainable.lr_schedule", SettingType.String, "`cosine`: the learning rate decays per step from `optimizer.lr` to 0 over all epochs. `constant`: it stays at `optimizer.lr`.",
            (s, v) => s with { Trainable = s.Trainable with { LrSchedule = (string)v! } }, Choices: LrSchedules, Default: "`cosine`"),
        new("trainable.dataset.name", SettingType.String,
            "A known dataset (`fashion_mnist`, `mnist`, `kmnist`: idx files; `cifar10`, `cifar100`: CIFAR binary batches), or with `format` any name (shown in reports).",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { Name = (string)v! } } }, Default: "`fashion_mnist`"),
        new("trainable.dataset.format", SettingType.String,
            "How the files are laid out. `idx`: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (raw or `.gz`). " +
            "`cifar`: `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin` (CIFAR-10), or `train.bin` and `test.bin` (CIFAR-100, fine labels). " +
            "`npy`: `x_train.npy`, `y_train.npy`, `x_test.npy`, `y_test.npy` (images N×H×W, N×H×W×C or N×C×H×W; integer labels).",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { Format = (string?)v } } }, Nullable: true, Choices: DatasetFormats.All,
            Default: "the known set's"),
        new("trainable.dataset.path", SettingType.String,
            "Folder of the dataset's files (see `format`). Relative paths are relative to the spec file. Required for every set but `fashion_mnist` " +
            "(Debian: `apt-get install dataset-fashion-mnist`). Not checked for `synthetic` and `command`.",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { Path = (string)v! } } }, Default: "`/usr/share/datasets/fashion-mnist`"),
        new("trainable.dataset.train_subset", SettingType.Integer, "Train on the first N training images (null: all).",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { TrainSubset = v is null ? null : (int)(long)v } } }, Nullable: true, Range: Positive, Default: "all"),
        new("trainable.dataset.test_subset", SettingType.Integer, "Evaluate on the first N test images, every epoch (null: all).",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { TestSubset = v is null ? null : (int)(long)v } } }, Nullable: true, Range: Positive, Default: "all"),
        new("trainable.dataset.validation", SettingType.Number,
            "Hold this many of the training images (after `train_subset`) out of training, as the validation split: `val_loss` and `val_accuracy` every epoch. " +
            "A count (integer ≥ 1) or a fraction in (0, 1); null: none. The images are chosen by a seeded Fisher–Yates sample (SplitMix64 of the sweep `seed`): " +
            "the same for every trial of a sweep and for a rerun of it, disjoint from the images trained on. A fraction is rounded to the nearest image; " +
            "at least one image must stay for training. Test metrics are still reported.",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { Validation = (double?)v } } }, Nullable: true,
            Range: new("(a count ≥ 1, or a fraction in (0, 1))", v => v > 0 && (v < 1 || v == Math.Floor(v)) ? null : $"must be a count (an integer ≥ 1) or a fraction in (0, 1), found {v}") { Low = 0, LowOpen = true },
            Default: "null"),
        new("trainable.optimizer.name", SettingType.String, "SGD with momentum, or Adam.",
            (s, v) => s with { Trainable = s.Trainable with { Optimizer = s.Trainable.Optimizer with { Name = (string)v! } } }, Choices: Optimizers, Default: "`sgd`"),
        new("trainable.optimizer.lr", SettingType.Number, "Initial learning rate.",
            (s, v) => s with { Trainable = s.Trainable with { Optimizer = s.Trainable.Optimizer with { Lr = (double)v! } } }, Range: ValueRange.In(0, 10, lowOpen: true, highOpen: false), Default: "0.05"),
        new("trainable.optimizer.momentum", SettingType.Number, "SGD momentum.",
            (s, v) => s with { Trainable = s.Trainable with { Optimizer = s.Trainable.Optimizer with { Momentum = (double)v! } } }, Range: ValueRange.In(0, 1, lowOpen: false, highOpen: true), Default: "0.9"),
        new("trainable.optimizer.weight_decay", SettingType.Number, "L2 weight decay.",
            (s, v) => s with { Trainable = s.Trainable with { Optimizer = s.Trainable.Optimizer with { WeightDecay = (double)v! } } }, Range: ValueRange.In(0, 1, lowOpen: false, highOpen: true), Default: "0"),
        new("trainable.synthetic.epoch_seconds", SettingType.Number, "`synthetic` model: simulated seconds per epoch (0: instantaneous).",
            (s, v) => s with { Trainable = s.Trainable with { Synthetic = s.Trainable.Synthetic with { EpochSeconds = (double)v! } } }, Range: ValueRange.Between(0, 3600), Default: "0"),
        new("trainable.synthetic.noise_std", SettingType.Number, "`synthetic` model: noise on the test accuracy.",
            (s, v) => s with { Trainable = s.Trainable with { Synthetic = s.Trainable.Synthetic with { NoiseStd = (double)v! } } }, Range: ValueRange.Between(0, 1), Default: "0.005"),
        new("trainable.input_size", SettingType.Integer,
            "Input side length the model sees (null: the images' own: 28 for the idx sets, 32 for CIFAR). A larger side zero-pads the image evenly " +
            "(the difference must be even), a smaller one crops its centre.",
            (s, v) => s with { Trainable = s.Trainable with { InputSize = v is null ? null : (int)(long)v } }, Nullable: true, Range: ValueRange.Between(4, 1024), Default: "the images' own"),
        new("trainable.input_channels", SettingType.Integer,
            "Input channels the model sees (null: the images' own): 3 from grey images repeats the grey channel; 1 from colour images takes their luminance.",
            (s, v) => s with { Trainable = s.Trainable with { InputChannels = v is null ? null : (int)(long)v } }, Nullable: true,
            Range: new("1 or 3", v => v is 1 or 3 ? null : $"must be 1 or 3, found {v}") { Low = 1, High = 3 }, Default: "the images' own"),
        Q("method", SettingType.String, "`none`",
            "Weight quantizer. `legacy_auto_po2`: max-based start and five least-squares refits. `msqe_po2`: least-squares refits plus a line search over " +
            "neighbouring exponents, keeping the best, re-chosen every step. `learnable_po2`: a trainable log2 scale with straight-through rounding. " +
            "`lsq`: a learned step size (not a power of two), the non-PO2 baseline.",
            (q, v) => q with { Method = (string)v! }, choices: QuantizerNames.Methods),
        Q("bits", SettingType.Integer, "4", "Weight bits.", (q, v) => q with { Bits = (int)(long)v! }, range: ValueRange.Between(2, 8)),
        Q("per_channel", SettingType.Boolean, "true", "One scale per output channel, or one per tensor.", (q, v) => q with { PerChannel = (bool)v! }),
        Q("quantize_first_last", SettingType.Boolean, "false", "Quantize the stem convolution and the classifier too.", (q, v) => q with { QuantizeFirstLast = (bool)v! }),
        Q("depthwise_per_channel", SettingType.Boolean, "true",
            "With `per_channel: true`: one scale per channel of a depthwise convolution (groups = in = out channels), or one for the whole depthwise layer (`false`). " +
            "No effect with `per_channel: false`. See below.",
            (q, v) => q with { DepthwisePerChannel = (bool)v! }),
        Q("bn_fold", SettingType.String, "`none` (= `false`)",
            "Quantize the batch-norm-folded weight W·γ/√(σ²+ε), as an accelerator runs it, with one of two training recipes (below). `true` means `qkeras` " +
            "(the authors' recipe), `false` and `none` mean no folding. Sweepable, e.g. `values: [qkeras, pytorch, false]`.",
            (q, v) => q with { BnFold = BnFoldRecipe.Normalize((string)v!) }, choices: BnFoldRecipe.SpecValues),
        Q("lls_iters", SettingType.Integer, "3", "`msqe_po2`: least-squares refits per step.", (q, v) => q with { LlsIters = (int)(long)v! }, range: ValueRange.Between(0, 20)),
        Q("line_search", SettingType.Boolean, "true", "`msqe_po2`: line search over neighbouring exponents.", (q, v) => q with { LineSearch = (bool)v! }),
        Q("line_search_range", SettingType.Integer, "6", "`msqe_po2`: offsets tried by the line search.", (q, v) => q with { LineSearchRange = (int)(long)v! }, range: ValueRange.Between(2, 32)),
        Q("outlier_mask", SettingType.Boolean, "true", "`msqe_po2`, `learnable_po2` (msqe_round): mask outliers out of the MSQE.", (q, v) => q with { OutlierMask = (bool)v! }),
        Q("outlier_sigma", SettingType.Number, "2.0", "`msqe_po2`: outlier threshold in standard deviations.", (q, v) => q with { OutlierSigma = (double)v! }, range: ValueRange.In(0, 100, lowOpen: true, highOpen: false)),
        Q("second_moments", SettingType.Boolean, "true",
            "`msqe_po2`, `learnable_po2` (msqe_round): weight the MSQE by √v, v an EMA (decay 0.999, starting at 1) of the squared gradient arriving at the " +
            "quantizer's output (0 for clipped weights). On by default, as in the authors' code.",
            (q, v) => q with { SecondMoments = (bool)v! }),
        Q("stable_scale", SettingType.Boolean, "false", "`msqe_po2`: freeze the exponent at rint of its moving average once `stable_from_epoch` has been trained (see below).",
            (q, v) => q with { StableScale = (bool)v! }),
        Q("stable_from_epoch", SettingType.Integer, "null (1)",
            "`msqe_po2` with `stable_scale`: the exponent is frozen once this epoch has been trained (so `1` freezes after the first epoch, never at the initial value); null: 1.",
            (q, v) => q with { StableFromEpoch = v is null ? null : (int)(long)v }, nullable: true, range: Positive),
        Q("rounding", SettingType.String, "`msqe_round`", "`learnable_po2`: exponent rounding (\"round to lower MSQE\" by default).",
            (q, v) => q with { Rounding = (string)v! }, choices: QuantizerNames.Roundings),
        Q("min_init_scale", SettingType.Number, "1e-5", "`learnable_po2`: lower clamp of the data-driven initial scale.",
            (q, v) => q with { MinInitScale = (double)v! }, range: ValueRange.In(0, 1, lowOpen: true, highOpen: true)),
        new("search.algorithm", SettingType.String,
            "`grid`: the cartesian product of the finite domains, first key varying slowest. `random`: independent seeded draws. " +
            "`tpe`: Tree-structured Parzen Estimator (Bergstra et al. 2011) with Optuna's defaults (10 random startup trials, gamma(n) = min(ceil(0.1·n), 25), " +
            "24 candidates), conditional parameters modelled only from trials where they were active.",
            (s, v) => s with { Search = s.Search with { Algorithm = (string)v! } }, Choices: Algorithms, Default: "`grid`"),
        new("search.num_samples", SettingType.Integer,
            "`random`/`tpe`: how many configurations (required unless `stop.max_trials` is set). `grid`: how many passes over the grid; required when a grid " +
            "has a continuous domain, which is then sampled anew in every pass (as in Ray Tune).",
            (s, v) => s with { Search = s.Search with { NumSamples = v is null ? null : (int)(long)v } }, Nullable: true, Range: ValueRange.Between(1, 1_000_000), Default: "null"),
        new("search.repeat", SettingType.Integer,
            "Run every configuration with this many seeds (consecutive trials). The searcher sees the mean of the repeats; reports group by configuration.",
            (s, v) => s with { Search = s.Search with { Repeat = (int)(long)v! } }, Range: ValueRange.Between(1, 1000), Default: "1"),
        new("scheduler.name", SettingType.String,
            "`fifo` runs every trial to the end. `asha`: asynchronous successive halving (Li et al. 2018): at rungs grace·η^k a trial continues only if its " +
            "objective is in the top 1/η of the results recorded at that rung so far. `median_stopping` (Golovin et al. 2017): after the grace period and " +
            "`min_samples_required` trials, a trial stops when its best result is worse than the median of the other trials' running averages at the same epoch.",
            (s, v) => s with { Scheduler = s.Scheduler with { Name = (string)v! } }, Choices: Schedulers, Default: "`fifo`"),
        new("scheduler.grace_period", SettingType.Integer, "Epochs before a trial can be stopped.",
            (s, v) => s with { Scheduler = s.Scheduler with { GracePeriod = (int)(long)v! } }, Range: Positive, Default: "1"),
        new("scheduler.reduction_factor", SettingType.Integer, "ASHA's η: keep the top 1/η at each rung.",
            (s, v) => s with { Scheduler = s.Scheduler with { ReductionFactor = (int)(long)v! } }, Range: ValueRange.AtLeast(2), Default: "4"),
        new("scheduler.max_t", SettingType.Integer, "ASHA's last rung's epoch.",
            (s, v) => s with { Scheduler = s.Scheduler with { MaxT = v is null ? null : (int)(long)v } }, Nullable: true, Range: Positive, Default: "`trainable.epochs`"),
        new("scheduler.min_samples_required", SettingType.Integer, "Median stopping: trials with results needed before stopping any.",
            (s, v) => s with { Scheduler = s.Scheduler with { MinSamplesRequired = (int)(long)v! } }, Range: Positive, Default: "3"),
        new("stop.max_trials", SettingType.Integer, "Start at most this many trials.",
            (s, v) => s with { Stop = s.Stop with { MaxTrials = v is null ? null : (int)(long)v } }, Nullable: true, Range: Positive, Default: "none"),
        new("stop.max_minutes", SettingType.Number, "Time budget in minutes from the sweep's start: then no trial starts, and running ones are stopped.",
            (s, v) => s with { Stop = s.Stop with { MaxMinutes = (double?)v } }, Nullable: true, Range: ValueRange.Above(0), Default: "none"),
        new("stop.target", SettingType.Number, "End the sweep once a completed trial's objective reaches it (≥ for max, ≤ for min).",
            (s, v) => s with { Stop = s.Stop with { Target = (double?)v } }, Nullable: true, Default: "none"),
        new("crashes.max_retries", SettingType.Integer, "Supervised restarts of a trial whose trainable throws, before the trial counts as failed.",
            (s, v) => s with { Crashes = s.Crashes with { MaxRetries = (int)(long)v! } }, Range: ValueRange.Between(0, 100), Default: "2"),
        new("crashes.backoff_seconds", SettingType.Number, "First backoff before such a restart, in seconds; it doubles per crash, up to 8×.",
            (s, v) => s with { Crashes = s.Crashes with { BackoffSeconds = (double)v! } }, Range: ValueRange.In(0, 3600, lowOpen: true, highOpen: false), Default: "1"),
        new("telemetry.otlp_endpoint", SettingType.String,
            "OTLP endpoint for traces and metrics; `OTEL_EXPORTER_OTLP_ENDPOINT` overrides it. Without either, spans go to `<run-dir>/traces.jsonl`.",
            (s, v) => s with { Telemetry = s.Telemetry with { OtlpEndpoint = (string?)v } }, Nullable: true, Default: "null"),
        new("telemetry.protocol", SettingType.String, "The OTLP protocol; `OTEL_EXPORTER_OTLP_PROTOCOL` overrides it.",
            (s, v) => s with { Telemetry = s.Telemetry with { Protocol = (string)v! } }, Choices: ["grpc", "http/protobuf"], Default: "`grpc`"),
        new("resources.max_concurrent_trials", SettingType.Integer,
            "Slots of the local worker: trials run at once (2 on a 2-core machine), each with the machine's cores divided among the slots as " +
            "TorchSharp intra-op threads (`--threads-per-trial`). Workers that join with `sweeper worker --slots N` bring their own slots.",
            (s, v) => s with { Resources = s.Resources with { MaxConcurrentTrials = (int)(long)v! } }, Range: ValueRange.Between(1, 256), Default: "1"),
        new("checkpoint.interval_epochs", SettingType.Integer,
            "Save a checkpoint (model, optimizer, RNG state, epoch) every N epochs and after the last; 0: never (a moved trial then starts from scratch).",
            (s, v) => s with { Checkpoint = s.Checkpoint with { IntervalEpochs = (int)(long)v! } }, Range: ValueRange.Between(0, 10000), Default: "1"),
        new("checkpoint.dir", SettingType.String,
            "Where checkpoints go, relative to the spec's folder. Every worker must reach the same path (a shared directory); the default works on one " +
            "machine with no set-up. A run checkpoints into a subfolder named after its run directory, so sweeps sharing the folder never overwrite each other.",
            (s, v) => s with { Checkpoint = s.Checkpoint with { Dir = (string?)v } }, Nullable: true, Default: "`<run dir>/checkpoints`"),
        new("checkpoint.keep", SettingType.Integer,
            "Checkpoints each assignment of a trial keeps: its newest N, plus its newest healthy one (what a rollback goes back to); older ones are deleted. " +
            "A checkpoint that fails to load falls back to the one before it, so keep at least 2; 0: keep every checkpoint.",
            (s, v) => s with { Checkpoint = s.Checkpoint with { Keep = (int)(long)v! } }, Range: ValueRange.Between(0, 10000), Default: "2"),
        new("output.dir", SettingType.String, "Parent folder of run directories, relative to the current directory (`sweeper run --output DIR` overrides it).",
            (s, v) => s with { Output = s.Output with { Dir = (string)v! } }, Default: "`runs`"),
        M("warmup_steps", SettingType.Integer, StabilityConstants.DefaultWarmupSteps,
            "The first steps are judged only for NaN/±∞ loss and gradient norm: the first exponents come from random weights, which move most in the first steps.",
            (o, v) => o with { WarmupSteps = (int)(long)v! }, new ValueRange("≥ 0", v => v >= 0 ? null : $"must not be negative, found {v}") { Low = 0 }.Int32()),
        M("flip_window", SettingType.Integer, StabilityConstants.DefaultFlipWindow,
            "Oscillating: the sliding window, in steps, over which a channel's exponent changes are counted (judged once a layer has been seen over a full window).",
            (o, v) => o with { FlipWindow = (int)(long)v! }, ValueRange.Between(2, StabilityConstants.MaxWindow)),
        M("max_flip_rate", SettingType.Number, StabilityConstants.DefaultMaxFlipRate,
            "Oscillating: a channel's exponent changed in more than this fraction of the window's steps.",
            (o, v) => o with { MaxFlipRate = (double)v! }, ValueRange.In(0, 1, lowOpen: true, highOpen: true)),
        M("min_exponent", SettingType.Integer, StabilityConstants.DefaultMinExponent,
            "Drifting: an exponent below this (the scale collapsed towards zero). Must be less than `max_exponent`.",
            (o, v) => o with { MinExponent = (int)(long)v! }, new ValueRange("", _ => null).Int32()),
        M("max_exponent", SettingType.Integer, StabilityConstants.DefaultMaxExponent,
            "Drifting: an exponent above this (the scale ran away towards infinity).",
            (o, v) => o with { MaxExponent = (int)(long)v! }, new ValueRange("", _ => null).Int32()),
        M("drift_window", SettingType.Integer, StabilityConstants.DefaultDriftWindow,
            "Drifting: steady drift is judged over this many steps.",
            (o, v) => o with { DriftWindow = (int)(long)v! }, ValueRange.Between(2, StabilityConstants.MaxWindow)),
        M("drift_min_change", SettingType.Integer, StabilityConstants.DefaultDriftMinChange,
            "Drifting: an exponent moved at least this much one way over the drift window without turning back.",
            (o, v) => o with { DriftMinChange = (int)(long)v! }, ValueRange.AtLeast(1).Int32()),
        M("spike_window", SettingType.Integer, StabilityConstants.DefaultSpikeWindow,
            "Diverged: the running medians of the loss and of the gradient norm are taken over this many last finite values (judged once the window is full).",
            (o, v) => o with { SpikeWindow = (int)(long)v! }, ValueRange.Between(2, StabilityConstants.MaxWindow)),
        M("loss_spike_factor", SettingType.Number, StabilityConstants.DefaultLossSpikeFactor,
            "Diverged: a loss above factor × its running median.",
            (o, v) => o with { LossSpikeFactor = (double)v! }, new ValueRange("> 1", v => v > 1 ? null : $"must be a finite number greater than 1, found {StabilityOptions.F(v)}") { Low = 1, LowOpen = true }),
        M("grad_norm_factor", SettingType.Number, StabilityConstants.DefaultGradNormFactor,
            "Diverged: a gradient norm above factor × its running median.",
            (o, v) => o with { GradNormFactor = (double)v! }, new ValueRange("> 1", v => v > 1 ? null : $"must be a finite number greater than 1, found {StabilityOptions.F(v)}") { Low = 1, LowOpen = true }),
        .. StabilityKinds.Unhealthy.SelectMany(Rule),
    ];

    private static readonly Dictionary<string, Setting> ByPath = Settings.ToDictionary(s => s.Path);
    private static readonly Dictionary<string, Section> SectionsByPath = Sections.ToDictionary(s => s.Path);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Setting> ArgSettings = new();

    /// <summary>
    /// The setting a dotted key names: one of <see cref="Settings"/>; a section written as its shorthand
    /// (<c>trainable.model</c> is <c>trainable.model.name</c>); or a free-form <c>trainable.args.KEY</c>.
    /// </summary>
    public static Setting? Find(string path) =>
        ByPath.GetValueOrDefault(path)
        ?? (SectionsByPath.GetValueOrDefault(path) is { Shorthand: { } shorthand } ? ByPath.GetValueOrDefault(path + "." + shorthand) : null)
        ?? (IsArgKey(path) ? ArgSettings.GetOrAdd(path, ArgSetting) : null);

    /// <summary>Whether <paramref name="path"/> is <c>trainable.args.KEY</c> with a well-formed key (dotted words of letters, digits, <c>_</c> and <c>-</c>).</summary>
    public static bool IsArgKey(string path) =>
        path.StartsWith(ArgsKey + ".", StringComparison.Ordinal) && IsArgName(path[(ArgsKey.Length + 1)..]);

    /// <summary>Dotted words, each starting with a letter or <c>_</c>, then letters, digits, <c>_</c> or <c>-</c>.</summary>
    public static bool IsArgName(string key) => key.Length is > 0 and <= 200 && key.Split('.').All(w =>
        w.Length > 0 && (char.IsAsciiLetter(w[0]) || w[0] == '_') && w.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'));

    private static Setting ArgSetting(string path)
    {
        var key = path[(ArgsKey.Length + 1)..];
        return new(path, SettingType.Any, "A free-form setting of the plug-in or program.",
            (s, v) => s with { Trainable = s.Trainable with { Args = s.Trainable.Args.With(key, v!) } });
    }

    private static CommandSpec CommandOf(SweepSpec s) => s.Trainable.Command ?? new CommandSpec { Argv = [], WorkingDirectory = "" };

    public static Section? FindSection(string path) => SectionsByPath.GetValueOrDefault(path);

    public static bool IsSection(string path) => SectionsByPath.ContainsKey(path) || path == "";

    /// <summary>The keys allowed directly under a section (empty string: the root), settings first, then sections.</summary>
    public static IReadOnlyList<string> KeysUnder(string section)
    {
        var prefix = section.Length == 0 ? "" : section + ".";
        return Settings.Select(s => s.Path).Concat(Sections.Select(s => s.Path))
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal) && p.Length > prefix.Length && !p[prefix.Length..].Contains('.'))
            .Select(p => p[prefix.Length..])
            .ToList();
    }

    /// <summary>The setting directly under <paramref name="section"/> that <paramref name="key"/> names, by its name or its alias.</summary>
    public static Setting? FindUnder(string section, string key)
    {
        var prefix = section.Length == 0 ? "" : section + ".";
        return Find(prefix + key) ?? Settings.FirstOrDefault(s => s.Alias == key && s.Path == prefix + s.Key);
    }

    /// <summary>The nearest of <paramref name="candidates"/> to <paramref name="word"/>, when it is close enough to be a likely typo.</summary>
    public static string? Nearest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var c in candidates)
        {
            int d = Levenshtein(word, c);
            if (d < bestDistance) { bestDistance = d; best = c; }
        }
        return best is not null && bestDistance <= Math.Max(2, best.Length / 3) ? best : null;
    }

    private static Setting Q(string key, SettingType type, string @default, string description, Func<QuantizerSpec, object?, QuantizerSpec> apply,
        IReadOnlyList<string>? choices = null, ValueRange? range = null, bool nullable = false) =>
        new("trainable.quantizer." + key, type, description,
            (s, v) => s with { Trainable = s.Trainable with { Quantizer = apply(s.Trainable.Quantizer, v) } },
            Nullable: nullable, Choices: choices, Range: range, Default: @default);

    /// <summary>A monitor threshold or window (<see cref="StabilityOptions"/>).</summary>
    private static Setting M(string key, SettingType type, double @default, string description, Func<StabilityOptions, object?, StabilityOptions> apply, ValueRange range) =>
        new($"{StabilityKey}.monitor.{key}", type, description,
            (s, v) => s with { Stability = s.Stability with { Monitor = apply(s.Stability.Monitor, v) } },
            Range: range, Default: ValueRange.N(@default).Replace("-", "−"));

    /// <summary>The keys of the rule for <paramref name="kind"/> (<see cref="StabilityRule"/>).</summary>
    private static IEnumerable<Setting> Rule(StabilityKind kind)
    {
        var p = $"{StabilityKey}.{kind.Word()}.";
        SweepSpec With(SweepSpec s, Func<StabilityRule, StabilityRule> change) => WithRule(s, kind, change);
        yield return new(p + "action", SettingType.String,
            "What to do about the verdict. A verdict not given keeps its default: `diverged` restarts with `trainable.optimizer.lr: \"*0.5\"`, " +
            $"at most {StabilityConstants.DefaultMaxRestarts} times; the others continue (they are still recorded).",
            (s, v) => With(s, r => r with { Action = (string)v! switch
            {
                StabilityConstants.ActionRestart => StabilityActionKind.Restart,
                StabilityConstants.ActionStop => StabilityActionKind.Stop,
                _ => StabilityActionKind.Continue,
            } }), Required: true, Choices: StabilityActions);
        yield return new(p + "from", SettingType.String,
            "Restart only. `last_healthy`: the newest checkpoint saved while the monitor had been healthy over its whole epoch (from the start when there is none; " +
            "an epoch inside the warm-up is not judged, so not healthy). `latest`: the newest checkpoint, healthy or not (from the start when there is none) — for " +
            "chronic conditions such as an oscillating exponent, which leave no healthy epoch but no damage either. `start`: from scratch.",
            (s, v) => With(s, r => r with { From = (string)v! switch
            {
                StabilityConstants.FromStart => RestartFrom.Start,
                StabilityConstants.FromLatest => RestartFrom.Latest,
                _ => RestartFrom.LastHealthy,
            } }), Choices: RestartFroms, Default: "`last_healthy`");
        yield return new(p + "changes", SettingType.Changes,
            "Restart only: applied once more at every restart (cumulative: lr 0.1 → 0.05 → 0.025). `key: \"*x\"` multiply, `\"+x\"`/`\"-x\"` add, " +
            "`\"=v\"` or a plain value set. Keys are trainable settings; every change is checked for every restart allowed. Quote changes: `*0.5` unquoted is a YAML alias.",
            (s, v) => With(s, r => r with { Changes = (ChangeSet)v! }), Default: "none", Alias: "change");
        yield return new(p + "max_restarts", SettingType.Integer,
            "Restart only: restarts for this verdict before the trial is stopped instead, saying so.",
            (s, v) => With(s, r => r with { MaxRestarts = (int)(long)v! }),
            Range: new($"1..{StabilityConstants.MaxRestartsLimit}", v => v is >= 1 and <= StabilityConstants.MaxRestartsLimit ? null
                : $"must be between 1 and {StabilityConstants.MaxRestartsLimit}, found {v} (to never restart, use action: stop)") { Low = 1, High = StabilityConstants.MaxRestartsLimit },
            Default: StabilityConstants.DefaultMaxRestarts.ToString(CultureInfo.InvariantCulture));
        var b = p + "backoff.";
        yield return new(b + "type", SettingType.String, "How the wait grows from one restart to the next: d, d, d … (`constant`), d, 2d, 3d … (`linear`), d, 2d, 4d … (`exponential`).",
            (s, v) => With(s, r => r with { Backoff = r.Backoff with { Type = (string)v! switch
            {
                StabilityConstants.BackoffLinear => BackoffType.Linear,
                StabilityConstants.BackoffExponential => BackoffType.Exponential,
                _ => BackoffType.Constant,
            } } }), Choices: BackoffTypes, Default: "`constant`");
        yield return new(b + "delay", SettingType.Duration, "The first restart's wait (and the step of linear growth).",
            (s, v) => With(s, r => r with { Backoff = r.Backoff with { Delay = (TimeSpan)v! } }), Range: SpecDuration.Range(StabilityConstants.MaxDelayLimit), Default: "0s");
        yield return new(b + "max_delay", SettingType.Duration, $"No wait is longer; at least `delay`. Every wait is capped at {SpecDuration.Format(StabilityConstants.MaxDelayLimit)} anyway.",
            (s, v) => With(s, r => r with { Backoff = r.Backoff with { MaxDelay = (TimeSpan)v! } }), Range: SpecDuration.Range(StabilityConstants.MaxDelayLimit), Default: "none");
    }

    private static SweepSpec WithRule(SweepSpec s, StabilityKind kind, Func<StabilityRule, StabilityRule> change)
    {
        var policy = s.Stability.Policy;
        policy = kind switch
        {
            StabilityKind.Oscillating => policy with { Oscillating = change(policy.Oscillating) },
            StabilityKind.Drifting => policy with { Drifting = change(policy.Drifting) },
            StabilityKind.Diverged => policy with { Diverged = change(policy.Diverged) },
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "a healthy verdict has no rule"),
        };
        return s with { Stability = s.Stability with { Policy = policy } };
    }

    private static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
