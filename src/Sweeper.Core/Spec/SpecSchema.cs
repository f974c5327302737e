using System.Globalization;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Core.Spec;

public enum SettingType { String, Number, Integer, Boolean }

/// <summary>
/// One leaf key of the spec: its dotted path, type, constraints and how it is applied to a <see cref="SweepSpec"/>.
/// The same table binds the YAML file and applies a trial's swept parameters, so both follow the same rules.
/// </summary>
public sealed record Setting(
    string Path,
    SettingType Type,
    string Description,
    Func<SweepSpec, object?, SweepSpec> Apply,
    bool Required = false,
    bool Nullable = false,
    IReadOnlyList<string>? Choices = null,
    Func<double, string?>? Range = null)
{
    /// <summary>Trainable settings can be swept by <c>parameters</c>.</summary>
    public bool Sweepable => Path.StartsWith("trainable.", StringComparison.Ordinal);

    /// <summary>Human wording of the expected value, for error messages.</summary>
    public string Expected => Choices is { Count: > 0 }
        ? "one of " + string.Join(", ", Choices)
        : Type switch
        {
            SettingType.Number => "a number",
            SettingType.Integer => "an integer",
            SettingType.Boolean => "true or false",
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
        }
        if (value is null)
        {
            error = $"expected {Expected}, found {Describe(scalar)}";
            return null;
        }
        error = Check(value);
        return error is null ? value : null;
    }

    /// <summary>Checks a typed value against the choices and range; null when it is valid.</summary>
    public string? Check(object value)
    {
        if (Choices is { Count: > 0 } && value is string s && !Choices.Contains(s))
            return $"unknown value '{s}'; expected {Expected}";
        if (Range is not null && value is double or long)
            return Range(System.Convert.ToDouble(value, CultureInfo.InvariantCulture));
        return null;
    }

    internal static string Describe(YScalar scalar) => scalar.Quoted ? $"the string \"{scalar.Value}\"" : $"'{scalar.Value}'";
}

/// <summary>Every key a sweep spec may hold (besides <c>parameters</c>, which is read separately).</summary>
public static class SpecSchema
{
    public static readonly IReadOnlyList<string> Models = ["mobilenet_v1", "mobilenet_v2", "synthetic"];
    /// <summary>Models that need no dataset.</summary>
    public static readonly IReadOnlyList<string> DataFreeModels = ["synthetic"];
    public static readonly IReadOnlyList<string> Algorithms = ["grid", "random", "tpe"];
    public static readonly IReadOnlyList<string> Schedulers = ["fifo", "asha", "median_stopping"];
    public static readonly IReadOnlyList<string> Datasets = ["fashion_mnist"];
    public static readonly IReadOnlyList<string> Optimizers = ["sgd", "adam"];
    public static readonly IReadOnlyList<string> LrSchedules = ["cosine", "constant"];
    public static readonly IReadOnlyList<string> Modes = ["max", "min"];
    public static readonly IReadOnlyList<string> ObjectiveMetrics =
        [MetricNames.ValAccuracy, MetricNames.ValLoss, MetricNames.TestAccuracy, MetricNames.TestLoss, MetricNames.TrainAccuracy, MetricNames.TrainLoss];

    /// <summary>Mapping sections: a key whose value is a mapping of further keys.</summary>
    public static readonly IReadOnlyList<(string Path, bool Required)> Sections =
    [
        ("objective", true), ("trainable", true), ("trainable.dataset", false), ("trainable.optimizer", false),
        ("trainable.synthetic", false), ("trainable.quantizer", false), ("search", false), ("scheduler", false), ("stop", false), ("telemetry", false), ("crashes", false),
        ("resources", false), ("output", false), ("checkpoint", false),
    ];

    public const string ParametersKey = "parameters";
    public const string StabilityKey = "stability";
    /// <summary>The root section of named bundles of settings (<see cref="SweepSpec.Variants"/>).</summary>
    public const string VariantsKey = "variants";
    /// <summary>The parameter a <c>variants:</c> section adds: its value is a variant's name.</summary>
    public const string VariantParameter = "variant";

    public static readonly IReadOnlyList<Setting> Settings =
    [
        new("name", SettingType.String, "Sweep name; names the run directory.",
            (s, v) => s with { Name = (string)v! }, Required: true),
        new("seed", SettingType.Integer, "Sweep seed; every trial's seed derives from it.",
            (s, v) => s with { Seed = (long)v! }),
        new("objective.metric", SettingType.String, "Metric to optimise, taken from each trial's last epoch.",
            (s, v) => s with { Objective = s.Objective with { Metric = (string)v! } }, Required: true, Choices: ObjectiveMetrics),
        new("objective.mode", SettingType.String, "max or min.",
            (s, v) => s with { Objective = s.Objective with { Mode = (string)v! == "min" ? ObjectiveMode.Min : ObjectiveMode.Max } }, Choices: Modes),
        new("trainable.model", SettingType.String, "Network architecture.",
            (s, v) => s with { Trainable = s.Trainable with { Model = (string)v! } }, Required: true, Choices: Models),
        new("trainable.width", SettingType.Number, "Width multiplier of the network's channels.",
            (s, v) => s with { Trainable = s.Trainable with { Width = (double)v! } }, Range: v => v is > 0 and <= 4 ? null : $"must be in (0, 4], found {v}"),
        new("trainable.epochs", SettingType.Integer, "Training epochs per trial.",
            (s, v) => s with { Trainable = s.Trainable with { Epochs = (int)(long)v! } }, Required: true, Range: v => v is >= 1 and <= 10000 ? null : $"must be between 1 and 10000, found {v}"),
        new("trainable.batch_size", SettingType.Integer, "Mini-batch size.",
            (s, v) => s with { Trainable = s.Trainable with { BatchSize = (int)(long)v! } }, Range: v => v is >= 1 and <= 65536 ? null : $"must be between 1 and 65536, found {v}"),
        new("trainable.lr_schedule", SettingType.String, "cosine (per-step decay to 0) or constant.",
            (s, v) => s with { Trainable = s.Trainable with { LrSchedule = (string)v! } }, Choices: LrSchedules),
        new("trainable.dataset.name", SettingType.String, "Dataset.",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { Name = (string)v! } } }, Choices: Datasets),
        new("trainable.dataset.path", SettingType.String, "Folder of the dataset's idx files (relative paths are relative to the spec file).",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { Path = (string)v! } } }),
        new("trainable.dataset.train_subset", SettingType.Integer, "Use only the first N training images (null: all 60000).",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { TrainSubset = v is null ? null : (int)(long)v } } }, Nullable: true, Range: Positive),
        new("trainable.dataset.test_subset", SettingType.Integer, "Use only the first N test images (null: all 10000).",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { TestSubset = v is null ? null : (int)(long)v } } }, Nullable: true, Range: Positive),
        new("trainable.dataset.validation", SettingType.Number, "Images held out of the training images for val_loss/val_accuracy: a count (integer ≥ 1) or a fraction in (0, 1), chosen from the sweep seed (null: none).",
            (s, v) => s with { Trainable = s.Trainable with { Dataset = s.Trainable.Dataset with { Validation = (double?)v } } }, Nullable: true,
            Range: v => v > 0 && (v < 1 || v == Math.Floor(v)) ? null : $"must be a count (an integer ≥ 1) or a fraction in (0, 1), found {v}"),
        new("trainable.optimizer.name", SettingType.String, "sgd (with momentum) or adam.",
            (s, v) => s with { Trainable = s.Trainable with { Optimizer = s.Trainable.Optimizer with { Name = (string)v! } } }, Choices: Optimizers),
        new("trainable.optimizer.lr", SettingType.Number, "Initial learning rate.",
            (s, v) => s with { Trainable = s.Trainable with { Optimizer = s.Trainable.Optimizer with { Lr = (double)v! } } }, Range: v => v is > 0 and <= 10 ? null : $"must be in (0, 10], found {v}"),
        new("trainable.optimizer.momentum", SettingType.Number, "SGD momentum.",
            (s, v) => s with { Trainable = s.Trainable with { Optimizer = s.Trainable.Optimizer with { Momentum = (double)v! } } }, Range: v => v is >= 0 and < 1 ? null : $"must be in [0, 1), found {v}"),
        new("trainable.optimizer.weight_decay", SettingType.Number, "L2 weight decay.",
            (s, v) => s with { Trainable = s.Trainable with { Optimizer = s.Trainable.Optimizer with { WeightDecay = (double)v! } } }, Range: v => v is >= 0 and < 1 ? null : $"must be in [0, 1), found {v}"),
        new("trainable.synthetic.epoch_seconds", SettingType.Number, "synthetic model: simulated seconds per epoch.",
            (s, v) => s with { Trainable = s.Trainable with { Synthetic = s.Trainable.Synthetic with { EpochSeconds = (double)v! } } }, Range: v => v is >= 0 and <= 3600 ? null : $"must be between 0 and 3600, found {v}"),
        new("trainable.synthetic.noise_std", SettingType.Number, "synthetic model: noise on the test accuracy.",
            (s, v) => s with { Trainable = s.Trainable with { Synthetic = s.Trainable.Synthetic with { NoiseStd = (double)v! } } }, Range: v => v is >= 0 and <= 1 ? null : $"must be between 0 and 1, found {v}"),
        new("trainable.input_size", SettingType.Integer, "Input side length: 28, or 32 (zero-padded).",
            (s, v) => s with { Trainable = s.Trainable with { InputSize = (int)(long)v! } }, Range: v => v is 28 or 32 ? null : $"must be 28 or 32, found {v}"),
        new("trainable.input_channels", SettingType.Integer, "Input channels: 1, or 3 (the grey image repeated).",
            (s, v) => s with { Trainable = s.Trainable with { InputChannels = (int)(long)v! } }, Range: v => v is 1 or 3 ? null : $"must be 1 or 3, found {v}"),
        Q("method", SettingType.String, "Weight quantizer.", (q, v) => q with { Method = (string)v! }, choices: QuantizerNames.Methods),
        Q("bits", SettingType.Integer, "Weight bits, 2..8.", (q, v) => q with { Bits = (int)(long)v! }, range: v => v is >= 2 and <= 8 ? null : $"must be between 2 and 8, found {v}"),
        Q("per_channel", SettingType.Boolean, "One scale per output channel (else per tensor).", (q, v) => q with { PerChannel = (bool)v! }),
        Q("quantize_first_last", SettingType.Boolean, "Quantize the first convolution and the classifier too.", (q, v) => q with { QuantizeFirstLast = (bool)v! }),
        Q("depthwise_per_channel", SettingType.Boolean, "With per_channel: one scale per depthwise channel (else one per depthwise layer).", (q, v) => q with { DepthwisePerChannel = (bool)v! }),
        Q("bn_fold", SettingType.String, "Fold batch norm into the quantized weight: qkeras (= true), pytorch, or none (= false).", (q, v) => q with { BnFold = BnFoldRecipe.Normalize((string)v!) }, choices: BnFoldRecipe.SpecValues),
        Q("lls_iters", SettingType.Integer, "msqe_po2: least-squares refits per step.", (q, v) => q with { LlsIters = (int)(long)v! }, range: v => v is >= 0 and <= 20 ? null : $"must be between 0 and 20, found {v}"),
        Q("line_search", SettingType.Boolean, "msqe_po2: line search over neighbouring exponents.", (q, v) => q with { LineSearch = (bool)v! }),
        Q("line_search_range", SettingType.Integer, "msqe_po2: offsets tried by the line search.", (q, v) => q with { LineSearchRange = (int)(long)v! }, range: v => v is >= 2 and <= 32 ? null : $"must be between 2 and 32, found {v}"),
        Q("outlier_mask", SettingType.Boolean, "Mask outliers out of the MSQE.", (q, v) => q with { OutlierMask = (bool)v! }),
        Q("outlier_sigma", SettingType.Number, "msqe_po2: outlier threshold in standard deviations.", (q, v) => q with { OutlierSigma = (double)v! }, range: v => v is > 0 and <= 100 ? null : $"must be in (0, 100], found {v}"),
        Q("second_moments", SettingType.Boolean, "Weight the MSQE by an EMA of squared gradients (default true, as in the authors' code).", (q, v) => q with { SecondMoments = (bool)v! }),
        Q("stable_scale", SettingType.Boolean, "msqe_po2: freeze rint of the exponent's moving average once stable_from_epoch has been trained.", (q, v) => q with { StableScale = (bool)v! }),
        Q("stable_from_epoch", SettingType.Integer, "msqe_po2: the epoch after which the stable exponent is frozen (null: 1).", (q, v) => q with { StableFromEpoch = v is null ? null : (int)(long)v }, nullable: true, range: Positive),
        Q("rounding", SettingType.String, "learnable_po2: exponent rounding.", (q, v) => q with { Rounding = (string)v! }, choices: QuantizerNames.Roundings),
        Q("min_init_scale", SettingType.Number, "learnable_po2: lower clamp of the initial scale.", (q, v) => q with { MinInitScale = (double)v! }, range: v => v is > 0 and < 1 ? null : $"must be in (0, 1), found {v}"),
        new("search.algorithm", SettingType.String, "grid, random or tpe.",
            (s, v) => s with { Search = s.Search with { Algorithm = (string)v! } }, Choices: Algorithms),
        new("search.num_samples", SettingType.Integer, "random/tpe: configurations to try; grid: passes over the grid.",
            (s, v) => s with { Search = s.Search with { NumSamples = v is null ? null : (int)(long)v } }, Nullable: true, Range: v => v is >= 1 and <= 1_000_000 ? null : $"must be between 1 and 1000000, found {v}"),
        new("search.repeat", SettingType.Integer, "Seeds per configuration.",
            (s, v) => s with { Search = s.Search with { Repeat = (int)(long)v! } }, Range: v => v is >= 1 and <= 1000 ? null : $"must be between 1 and 1000, found {v}"),
        new("scheduler.name", SettingType.String, "fifo, asha or median_stopping.",
            (s, v) => s with { Scheduler = s.Scheduler with { Name = (string)v! } }, Choices: Schedulers),
        new("scheduler.grace_period", SettingType.Integer, "Epochs before a trial can be stopped.",
            (s, v) => s with { Scheduler = s.Scheduler with { GracePeriod = (int)(long)v! } }, Range: Positive),
        new("scheduler.reduction_factor", SettingType.Integer, "ASHA: keep the top 1/eta at each rung.",
            (s, v) => s with { Scheduler = s.Scheduler with { ReductionFactor = (int)(long)v! } }, Range: v => v >= 2 ? null : $"must be at least 2, found {v}"),
        new("scheduler.max_t", SettingType.Integer, "ASHA: the last rung's epoch (default: trainable.epochs).",
            (s, v) => s with { Scheduler = s.Scheduler with { MaxT = v is null ? null : (int)(long)v } }, Nullable: true, Range: Positive),
        new("scheduler.min_samples_required", SettingType.Integer, "median_stopping: trials needed before stopping any.",
            (s, v) => s with { Scheduler = s.Scheduler with { MinSamplesRequired = (int)(long)v! } }, Range: Positive),
        new("stop.max_trials", SettingType.Integer, "Start at most this many trials.",
            (s, v) => s with { Stop = s.Stop with { MaxTrials = v is null ? null : (int)(long)v } }, Nullable: true, Range: Positive),
        new("stop.max_minutes", SettingType.Number, "Time budget in minutes.",
            (s, v) => s with { Stop = s.Stop with { MaxMinutes = (double?)v } }, Nullable: true, Range: v => v > 0 ? null : $"must be greater than 0, found {v}"),
        new("stop.target", SettingType.Number, "End the sweep once a trial reaches this objective value.",
            (s, v) => s with { Stop = s.Stop with { Target = (double?)v } }, Nullable: true),
        new("crashes.max_retries", SettingType.Integer, "Restarts of a trial whose trainable throws, before it counts as failed.",
            (s, v) => s with { Crashes = s.Crashes with { MaxRetries = (int)(long)v! } }, Range: v => v is >= 0 and <= 100 ? null : $"must be between 0 and 100, found {v}"),
        new("crashes.backoff_seconds", SettingType.Number, "First backoff before such a restart (doubling, up to 8x).",
            (s, v) => s with { Crashes = s.Crashes with { BackoffSeconds = (double)v! } }, Range: v => v is > 0 and <= 3600 ? null : $"must be in (0, 3600], found {v}"),
        new("telemetry.otlp_endpoint", SettingType.String, "OTLP endpoint for traces and metrics (OTEL_EXPORTER_OTLP_ENDPOINT overrides it).",
            (s, v) => s with { Telemetry = s.Telemetry with { OtlpEndpoint = (string?)v } }, Nullable: true),
        new("telemetry.protocol", SettingType.String, "grpc or http/protobuf.",
            (s, v) => s with { Telemetry = s.Telemetry with { Protocol = (string)v! } }, Choices: ["grpc", "http/protobuf"]),
        new("resources.max_concurrent_trials", SettingType.Integer, "Trials run at once on a worker (one intra-op thread each).",
            (s, v) => s with { Resources = s.Resources with { MaxConcurrentTrials = (int)(long)v! } }, Range: v => v is >= 1 and <= 256 ? null : $"must be between 1 and 256, found {v}"),
        new("checkpoint.interval_epochs", SettingType.Integer, "Save a checkpoint every N epochs and after the last (0: never).",
            (s, v) => s with { Checkpoint = s.Checkpoint with { IntervalEpochs = (int)(long)v! } }, Range: v => v is >= 0 and <= 10000 ? null : $"must be between 0 and 10000, found {v}"),
        new("checkpoint.dir", SettingType.String, "Checkpoint folder every worker can reach (default: checkpoints/ in the run directory).",
            (s, v) => s with { Checkpoint = s.Checkpoint with { Dir = (string?)v } }, Nullable: true),
        new("output.dir", SettingType.String, "Parent folder of run directories (relative to the current directory).",
            (s, v) => s with { Output = s.Output with { Dir = (string)v! } }),
    ];

    private static readonly Dictionary<string, Setting> ByPath = Settings.ToDictionary(s => s.Path);

    public static Setting? Find(string path) => ByPath.GetValueOrDefault(path);

    public static bool IsSection(string path) => Sections.Any(s => s.Path == path) || path == "";

    /// <summary>The keys allowed directly under a section (empty string: the root).</summary>
    public static IReadOnlyList<string> KeysUnder(string section)
    {
        var prefix = section.Length == 0 ? "" : section + ".";
        var children = Settings.Select(s => s.Path).Concat(Sections.Select(s => s.Path))
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal) && p.Length > prefix.Length && !p[prefix.Length..].Contains('.'))
            .Select(p => p[prefix.Length..]);
        if (section.Length == 0) children = children.Append(ParametersKey).Append(VariantsKey).Append(StabilityKey);
        return children.ToList();
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

    private static Setting Q(string key, SettingType type, string description, Func<QuantizerSpec, object?, QuantizerSpec> apply,
        IReadOnlyList<string>? choices = null, Func<double, string?>? range = null, bool nullable = false) =>
        new("trainable.quantizer." + key, type, description,
            (s, v) => s with { Trainable = s.Trainable with { Quantizer = apply(s.Trainable.Quantizer, v) } },
            Nullable: nullable, Choices: choices, Range: range);

    private static string? Positive(double v) => v >= 1 ? null : $"must be at least 1, found {v}";

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
