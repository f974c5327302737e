using System.Globalization;
using Sweeper.Core.Spec;
using Sweeper.Core.Stability;
using Sweeper.Core.Trials;

namespace Sweeper.Training.Trainables.Command;

/// <summary>
/// The values of the <c>${key}</c> placeholders (<see cref="CommandPlaceholders"/>) of a program's arguments
/// (<c>trainable.command</c>) for one trial: <c>trainable.&lt;setting&gt;</c> (e.g. <c>trainable.optimizer.lr</c>),
/// <c>trainable.args.&lt;key&gt;</c>, <c>trial.id</c>, <c>trial.seed</c> and <c>trial.epochs</c>. <c>$${</c> is a literal <c>${</c>.
/// </summary>
public static class CommandArguments
{
    /// <summary>The prefix of a key naming a free-form setting (<c>trainable.args.</c>).</summary>
    private const string ArgsPrefix = SpecSchema.ArgsKey + ".";

    /// <summary>The program's arguments for <paramref name="config"/>'s trial (<c>trainable.command</c> with every placeholder replaced).</summary>
    /// <exception cref="ArgumentException">The trial has no command, a placeholder names an unknown key, or one is malformed.</exception>
    public static IReadOnlyList<string> For(TrialConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var command = config.Trainable.Command ?? throw new ArgumentException($"trial {config.Id} has no trainable.command", nameof(config));
        var resolve = Resolver(config);
        return command.Argv.Select(a => CommandPlaceholders.Expand(a, resolve)).ToArray();
    }

    /// <summary>
    /// The value of a placeholder key for <paramref name="config"/>'s trial, as the program sees it (numbers in their
    /// invariant spelling, booleans as <c>true</c>/<c>false</c>). The trial's trainable settings win over its swept
    /// parameters: a stability restart changes the settings (e.g. a lower <c>trainable.optimizer.lr</c>), not the
    /// parameters the search chose.
    /// </summary>
    /// <returns>A function that throws <see cref="ArgumentException"/> naming an unknown key.</returns>
    public static Func<string, string> Resolver(TrialConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var lookup = Lookup(config);
        var args = EffectiveArgs(config);
        return key =>
        {
            switch (key)
            {
                case CommandPlaceholders.TrialId: return config.Id.ToString();
                case CommandPlaceholders.TrialSeed: return config.Seed.ToString(CultureInfo.InvariantCulture);
                case CommandPlaceholders.TrialEpochs: return config.Trainable.Epochs.ToString(CultureInfo.InvariantCulture);
            }
            if (key.StartsWith("trainable.", StringComparison.Ordinal) && lookup(key, out var value) && value is not null)
                return TrainableArgs.Text(value);
            throw new ArgumentException(
                $"command argument placeholder '${{{key}}}' names no value of trial {config.Id}: use trainable.<setting> (e.g. trainable.optimizer.lr), " +
                $"trainable.args.<key> (known: {(args.Count == 0 ? "none" : string.Join(", ", args.Select(a => a.Key)))}), trial.id, trial.seed or trial.epochs");
        };
    }

    /// <summary>
    /// The trial's current value of a dotted key: its trainable settings (<c>trainable.args.*</c> included) first, then
    /// its swept parameters (for a key no setting holds).
    /// </summary>
    public static ParameterLookup Lookup(TrialConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var settings = TrainableValues.Lookup(config.Trainable); // trainable.args.* included
        return (string key, out object? value) =>
        {
            if (settings(key, out value) && value is not null) return true;
            foreach (var (k, v) in config.Parameters)
                if (k == key) { value = v; return true; }
            value = null;
            return false;
        };
    }

    /// <summary>The trial's swept parameters with their current values (see <see cref="Lookup"/>), in spec order.</summary>
    public static IReadOnlyList<KeyValuePair<string, object>> CurrentParameters(TrialConfig config)
    {
        var lookup = Lookup(config);
        return config.Parameters.Select(p => new KeyValuePair<string, object>(p.Key, lookup(p.Key, out var v) && v is not null ? v : p.Value)).ToArray();
    }

    /// <summary>
    /// The trial's free-form settings (<c>trainable.args</c>, keys without the prefix), with any swept
    /// <c>trainable.args.*</c> parameter the settings do not hold added at the end.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, object>> EffectiveArgs(TrialConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var args = config.Trainable.Args;
        foreach (var (key, value) in config.Parameters)
            if (key.StartsWith(ArgsPrefix, StringComparison.Ordinal) && !args.TryGet(key[ArgsPrefix.Length..], out _))
                args = args.With(key[ArgsPrefix.Length..], value);
        return args.Entries;
    }
}
