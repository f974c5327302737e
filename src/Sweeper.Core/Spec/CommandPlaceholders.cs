using System.Text;

namespace Sweeper.Core.Spec;

/// <summary>
/// <c>${key}</c> in a program trainable's arguments (<see cref="CommandSpec.Argv"/>): a trainable key
/// (<c>${trainable.optimizer.lr}</c>, <c>${trainable.args.depth}</c>) or a trial key (<see cref="TrialKeys"/>); <c>$${</c>
/// is a literal <c>${</c>. One reading of the syntax for the loader (which checks the keys) and the trainable (which
/// substitutes them).
/// </summary>
public static class CommandPlaceholders
{
    public const string TrialId = "trial.id";
    public const string TrialSeed = "trial.seed";
    public const string TrialEpochs = "trial.epochs";

    /// <summary>The keys about the trial rather than its settings.</summary>
    public static IReadOnlyList<string> TrialKeys { get; } = [TrialId, TrialSeed, TrialEpochs];

    public static bool IsTrialKey(string key) => TrialKeys.Contains(key);

    /// <summary>The keys <paramref name="argument"/> names, in order; <paramref name="syntaxError"/> tells of an unclosed or empty <c>${</c>.</summary>
    public static IReadOnlyList<string> Keys(string argument, out string? syntaxError)
    {
        var keys = new List<string>();
        syntaxError = Walk(argument, null, key => { keys.Add(key); return ""; });
        return keys;
    }

    /// <summary>
    /// <paramref name="argument"/> with every <c>${key}</c> replaced by <paramref name="value"/>(key) and <c>$${</c> by <c>${</c>.
    /// </summary>
    /// <exception cref="ArgumentException">A syntax error, or a key <paramref name="value"/> has no value for (returns null).</exception>
    public static string Expand(string argument, Func<string, string?> value)
    {
        ArgumentNullException.ThrowIfNull(argument);
        ArgumentNullException.ThrowIfNull(value);
        var text = new StringBuilder(argument.Length);
        var error = Walk(argument, text, key => value(key) ?? throw new ArgumentException($"'${{{key}}}' in the argument '{argument}' has no value for this trial"));
        if (error is not null) throw new ArgumentException(error);
        return text.ToString();
    }

    private static string? Walk(string argument, StringBuilder? output, Func<string, string> replace)
    {
        int i = 0;
        while (i < argument.Length)
        {
            if (argument[i] == '$' && i + 2 < argument.Length && argument[i + 1] == '$' && argument[i + 2] == '{')
            {
                output?.Append("${");
                i += 3;
                continue;
            }
            if (argument[i] == '$' && i + 1 < argument.Length && argument[i + 1] == '{')
            {
                int end = argument.IndexOf('}', i + 2);
                if (end < 0) return $"'${{' without a closing '}}' in the argument '{argument}' (write '$${{' for a literal '${{')";
                var key = argument[(i + 2)..end].Trim();
                if (key.Length == 0) return $"an empty '${{}}' in the argument '{argument}'";
                var value = replace(key); // called even without output: Keys collects through it
                output?.Append(value);
                i = end + 1;
                continue;
            }
            output?.Append(argument[i]);
            i++;
        }
        return null;
    }
}
