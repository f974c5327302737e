namespace Sweeper.Training.Trainables.Command;

/// <summary>The environment variables a program trainable is started with (besides Sweeper's own environment).</summary>
public static class CommandEnvironment
{
    /// <summary>The trial's id (e.g. <c>t0003</c>).</summary>
    public const string TrialId = "SWEEPER_TRIAL_ID";
    /// <summary>The trial's seed (a decimal integer).</summary>
    public const string Seed = "SWEEPER_SEED";
    /// <summary>How many epochs the trial runs in all (<c>trainable.epochs</c>).</summary>
    public const string Epochs = "SWEEPER_EPOCHS";
    /// <summary>The assignment (attempt) number of this run of the trial: 1, 2, ...</summary>
    public const string Attempt = "SWEEPER_ATTEMPT";
    /// <summary>
    /// The path of a JSON file holding the trial's settings:
    /// <c>{"trial_id": "t0003", "seed": 42, "epochs": 3, "parameters": {"trainable.optimizer.lr": 0.1}, "args": {"depth": 2}}</c>.
    /// </summary>
    public const string Params = "SWEEPER_PARAMS";
    /// <summary>The prefix of one variable per free-form setting (<c>trainable.args</c>): the key upper-cased, dots and dashes as underscores.</summary>
    public const string ArgPrefix = "SWEEPER_ARG_";
    /// <summary>This attempt's own folder (scratch space; its parent, the trial's <c>work</c> folder, is shared by the trial's attempts).</summary>
    public const string WorkDir = "SWEEPER_WORK_DIR";
    /// <summary>The folder the program writes its checkpoints into (named, relative to it, on the epoch lines).</summary>
    public const string CheckpointDir = "SWEEPER_CHECKPOINT_DIR";
    /// <summary>When resuming: the program's checkpoint file to continue from.</summary>
    public const string ResumeCheckpoint = "SWEEPER_RESUME_CHECKPOINT";
    /// <summary>When resuming: the epoch that checkpoint was saved after; the program's next epoch line is this + 1.</summary>
    public const string ResumeEpoch = "SWEEPER_RESUME_EPOCH";

    /// <summary>The variable of free-form setting <paramref name="key"/> (e.g. <c>model.depth</c> → <c>SWEEPER_ARG_MODEL_DEPTH</c>).</summary>
    public static string ArgVariable(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        var chars = key.ToUpperInvariant().ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (!(char.IsAsciiLetterOrDigit(chars[i]) || chars[i] == '_')) chars[i] = '_';
        return ArgPrefix + new string(chars);
    }
}
