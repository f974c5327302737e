namespace Sweeper.Core.Spec;

/// <summary>A validated sweep spec: what to train, what to vary, how to judge and where to write.</summary>
public sealed record SweepSpec
{
    public required string Name { get; init; }
    public long Seed { get; init; }
    public required ObjectiveSpec Objective { get; init; }
    public required TrainableSpec Trainable { get; init; }
    public IReadOnlyList<ParameterSpec> Parameters { get; init; } = [];
    public ResourcesSpec Resources { get; init; } = new();
    public OutputSpec Output { get; init; } = new();
    public CheckpointSpec Checkpoint { get; init; } = new();
    /// <summary>The file the spec was read from (absolute path), or a label for in-memory text.</summary>
    public string SourcePath { get; init; } = "<memory>";
    /// <summary>The spec's text as read, kept with the results so a run directory documents itself.</summary>
    public string SourceText { get; init; } = "";
}

public enum ObjectiveMode { Max, Min }

public sealed record ObjectiveSpec(string Metric, ObjectiveMode Mode)
{
    /// <summary>True when <paramref name="candidate"/> is strictly better than <paramref name="incumbent"/>; NaN is never better.</summary>
    public bool IsBetter(double candidate, double incumbent)
    {
        if (double.IsNaN(candidate)) return false;
        if (double.IsNaN(incumbent)) return true;
        return Mode == ObjectiveMode.Max ? candidate > incumbent : candidate < incumbent;
    }
}

/// <summary>The trainable's settings for one trial (after the trial's parameters are applied).</summary>
public sealed record TrainableSpec
{
    /// <summary>Model name: <c>mobilenet_v1</c> (more in later versions).</summary>
    public string Model { get; init; } = "mobilenet_v1";
    /// <summary>Width multiplier of the network (channels × width).</summary>
    public double Width { get; init; } = 0.25;
    public required DatasetSpec Dataset { get; init; }
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 64;
    public OptimizerSpec Optimizer { get; init; } = new();
    /// <summary><c>cosine</c> (per-step cosine decay to zero over all epochs) or <c>constant</c>.</summary>
    public string LrSchedule { get; init; } = "cosine";
}

public sealed record DatasetSpec
{
    /// <summary><c>fashion_mnist</c>.</summary>
    public string Name { get; init; } = "fashion_mnist";
    /// <summary>Folder holding the idx files (gzip or raw).</summary>
    public string Path { get; init; } = "/usr/share/datasets/fashion-mnist";
    /// <summary>Use only the first N training images (null: all).</summary>
    public int? TrainSubset { get; init; }
    /// <summary>Use only the first N test images (null: all).</summary>
    public int? TestSubset { get; init; }
}

public sealed record OptimizerSpec
{
    /// <summary><c>sgd</c> (with momentum) or <c>adam</c>.</summary>
    public string Name { get; init; } = "sgd";
    public double Lr { get; init; } = 0.05;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 0.0;
}

/// <summary>One swept parameter: a dotted key into the trial's settings and its domain.</summary>
public sealed record ParameterSpec(string Key, IReadOnlyList<object> Values, SourceLocation Location);

public sealed record ResourcesSpec
{
    public int MaxConcurrentTrials { get; init; } = 1;
}

public sealed record OutputSpec
{
    /// <summary>Parent folder of run directories, relative to the current directory.</summary>
    public string Dir { get; init; } = "runs";
}

public sealed record CheckpointSpec
{
    /// <summary>Save a checkpoint every N epochs (and after the last); 0 turns checkpoints off.</summary>
    public int IntervalEpochs { get; init; } = 1;
    /// <summary>Folder every worker can reach (null: <c>checkpoints/</c> in the run directory).</summary>
    public string? Dir { get; init; }
}

/// <summary>A place in a spec file (1-based line and column).</summary>
public readonly record struct SourceLocation(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}
