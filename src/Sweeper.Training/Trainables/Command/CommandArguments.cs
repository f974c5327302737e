using System.Globalization;
using System.Text;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Training.Trainables.Command;

/// <summary>
/// The <c>${key}</c> placeholders of a program's arguments (<c>trainable.command</c>): which keys they name, and their
/// values for one trial. <c>$${</c> is a literal <c>${</c>. Keys are <c>trainable.&lt;setting&gt;</c> (e.g.
/// <c>trainable.optimizer.lr</c>), <c>trainable.args.&lt;key&gt;</c>, <c>trial.id</c>, <c>trial.seed</c> and
/// <c>trial.epochs</c>. A spec loader can call <see cref="Keys"/> to check the names before a sweep starts.
/// </summary>
public static class CommandArguments
{
    /// <summary>The prefix of a key naming a free-form setting (<c>trainable.args</c>).</summary>
    public const string ArgsPrefix = "trainable.args.";

    /// <summary>The keys about the trial itself that every argument may name.</summary>
    public static IReadOnlyList<string> TrialKeys { get; } = ["trial.id", "trial.seed", "trial.epochs"];

    /// <summary>Every key named by a placeholder in <paramref name="argument"/>, in order.</summary>
    /// <exception cref="ArgumentException">A <c>${</c> without its closing <c>}</c>, or an empty key.</exception>
    public static IReadOnlyList<string> Keys(string argument)
    {
        var keys = new List<string>();
        Expand(argument, key => { keys.Add(key); return ""; });
        return keys;
    }

    /// <summary>Replaces every <c>${key}</c> of <paramref name="argument"/> with <paramref name="resolve"/>(key), and <c>$${</c> with <c>${</c>.</summary>
    /// <exception cref="ArgumentException">A <c>${</c> without its closing <c>}</c>, or an empty key.</exception>
    public static string Expand(string argument, Func<string, string> resolve)
    {
        ArgumentNullException.ThrowIfNull(argument);
        ArgumentNullException.ThrowIfNull(resolve);
        var text = new StringBuilder(argument.Length);
        int i = 0;
        while (i < argument.Length)
        {
            if (string.CompareOrdinal(argument, i, "$${", 0, 3) == 0)
            {
                text.Append("${");
                i += 3;
            }
            else if (string.CompareOrdinal(argument, i, "${", 0, 2) == 0)
            {
                int end = argument.IndexOf('}', i + 2);
                if (end < 0)
                    throw new ArgumentException($"command argument '{argument}': '${{' at position {i} has no closing '}}' (write '$${{' for a literal '${{')");
                string key = argument[(i + 2)..end].Trim();
                if (key.Length == 0)
                    throw new ArgumentException($"command argument '{argument}': empty placeholder '${{}}' at position {i}");
                text.Append(resolve(key));
                i = end + 1;
            }
            else
            {
                text.Append(argument[i]);
                i++;
            }
        }
        return text.ToString();
    }

    /// <summary>The program's arguments for <paramref name="config"/>'s trial (<c>trainable.command</c> with every placeholder replaced).</summary>
    /// <exception cref="ArgumentException">The trial has no command, a placeholder names an unknown key, or one is malformed.</exception>
    public static IReadOnlyList<string> For(TrialConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var command = config.Trainable.Command ?? throw new ArgumentException($"trial {config.Id} has no trainable.command", nameof(config));
        var resolve = Resolver(config);
        return command.Argv.Select(a => Expand(a, resolve)).ToArray();
    }

    /// <summary>
    /// The value of a placeholder key for <paramref name="config"/>'s trial, as the program sees it (numbers in their
    /// invariant spelling, booleans as <c>true</c>/<c>false</c>).
    /// </summary>
    /// <returns>A function that throws <see cref="ArgumentException"/> naming an unknown key.</returns>
    public static Func<string, string> Resolver(TrialConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var lookup = TrainableValues.Lookup(config.Trainable, config.Parameters);
        var args = EffectiveArgs(config);
        return key =>
        {
            switch (key)
            {
                case "trial.id": return config.Id.ToString();
                case "trial.seed": return config.Seed.ToString(CultureInfo.InvariantCulture);
                case "trial.epochs": return config.Trainable.Epochs.ToString(CultureInfo.InvariantCulture);
            }
            if (key.StartsWith(ArgsPrefix, StringComparison.Ordinal))
            {
                foreach (var (k, v) in args)
                    if (k == key[ArgsPrefix.Length..]) return TrainableArgs.Text(v);
            }
            else if (key.StartsWith("trainable.", StringComparison.Ordinal) && lookup(key, out var value) && value is not null)
            {
                return TrainableArgs.Text(value);
            }
            throw new ArgumentException(
                $"command argument placeholder '${{{key}}}' names no value of trial {config.Id}: use trainable.<setting> (e.g. trainable.optimizer.lr), " +
                $"trainable.args.<key> (known: {(args.Count == 0 ? "none" : string.Join(", ", args.Select(a => a.Key)))}), trial.id, trial.seed or trial.epochs");
        };
    }

    /// <summary>
    /// The trial's free-form settings (<c>trainable.args</c>, keys without the prefix) with its swept
    /// <c>trainable.args.*</c> parameters applied, in spec order (swept keys the args do not hold come last).
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, object>> EffectiveArgs(TrialConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var args = config.Trainable.Args;
        foreach (var (key, value) in config.Parameters)
            if (key.StartsWith(ArgsPrefix, StringComparison.Ordinal))
                args = args.With(key[ArgsPrefix.Length..], value);
        return args.Entries;
    }
}
