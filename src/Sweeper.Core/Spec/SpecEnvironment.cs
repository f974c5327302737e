using System.Text;

namespace Sweeper.Core.Spec;

/// <summary>
/// <c>${env:NAME}</c> and <c>${env:NAME:-default}</c> in a spec's values: replaced by the environment variable NAME
/// (or the default when it is unset or empty) before any key is read, so the value is then typed and checked like one
/// written out (a quoted value that is one reference and nothing else is typed by what it became, so
/// <c>lr: "${env:LR}"</c> is a number). An unset variable without a default is an error at its place in the file.
/// Keys are never replaced;
/// <c>$${env:</c> stays as written (a program trainable's arguments read <c>$${</c> as a literal <c>${</c>).
/// </summary>
public static class SpecEnvironment
{
    private const string Opening = "${env:";

    /// <summary>The tree with every value's references replaced; problems are added to <paramref name="errors"/>.</summary>
    public static YNode Interpolate(YNode root, Func<string, string?> environment, string file, List<SpecError> errors)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(environment);
        return Walk(root, "", environment, file, errors);
    }

    private static YNode Walk(YNode node, string path, Func<string, string?> environment, string file, List<SpecError> errors) => node switch
    {
        YScalar scalar => scalar.Value.Contains(Opening, StringComparison.Ordinal) ? Replace(scalar, path, environment, file, errors) : scalar,
        YSequence list => list with { Items = list.Items.Select((item, i) => Walk(item, $"{path}[{i}]", environment, file, errors)).ToList() },
        YMapping map => map with
        {
            Entries = map.Entries.Select(e => new KeyValuePair<YScalar, YNode>(e.Key, Walk(e.Value, path.Length == 0 ? e.Key.Value : path + "." + e.Key.Value, environment, file, errors))).ToList(),
        },
        _ => node,
    };

    private static YScalar Replace(YScalar scalar, string path, Func<string, string?> environment, string file, List<SpecError> errors)
    {
        var text = scalar.Value;
        var result = new StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            if (text[i] == '$' && string.CompareOrdinal(text, i + 1, Opening, 0, Opening.Length) == 0)
            {
                result.Append('$').Append(Opening); // $${env:... is kept for the program trainable's own escape
                i += 1 + Opening.Length;
                continue;
            }
            if (string.CompareOrdinal(text, i, Opening, 0, Opening.Length) != 0)
            {
                result.Append(text[i++]);
                continue;
            }
            int end = text.IndexOf('}', i);
            if (end < 0)
            {
                errors.Add(new SpecError(file, scalar.Location, path, $"'{Opening}' without a closing '}}' in '{text}'"));
                return scalar;
            }
            var body = text[(i + Opening.Length)..end];
            int dash = body.IndexOf(":-", StringComparison.Ordinal);
            var name = dash < 0 ? body : body[..dash];
            string? fallback = dash < 0 ? null : body[(dash + 2)..];
            if (!IsName(name))
            {
                errors.Add(new SpecError(file, scalar.Location, path,
                    $"'{name}' in '${{env:{body}}}' is not an environment variable name (letters, digits and '_', not starting with a digit)"));
                return scalar;
            }
            var value = environment(name);
            if (string.IsNullOrEmpty(value)) value = fallback;
            if (value is null)
            {
                errors.Add(new SpecError(file, scalar.Location, path,
                    $"environment variable {name} is not set; set it, or give a default: ${{env:{name}:-value}}"));
                return scalar;
            }
            result.Append(value);
            i = end + 1;
        }
        // A value that is one reference and nothing else is typed by what it became, quoted or not
        // (lr: "${env:LR}" is a number when LR=0.1): quoting is how YAML lets "${...}" into a flow mapping.
        bool whole = text.StartsWith(Opening, StringComparison.Ordinal) && text.IndexOf('}') == text.Length - 1;
        return scalar with { Value = result.ToString(), Quoted = scalar.Quoted && !whole };
    }

    private static bool IsName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
