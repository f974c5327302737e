using System.Text;
using System.Text.RegularExpressions;
using Sweeper.Core.Model;

namespace Sweeper.Core.Spec;

/// <summary>
/// Renders the key tables of docs/spec.md from <see cref="SpecSchema"/>: key, type (with its choices or range), default and
/// meaning, from the same <see cref="Setting"/> and <see cref="Section"/> rows the loader reads a spec with. The document
/// keeps its prose by hand; each table sits between <c>&lt;!-- generated: NAME --&gt;</c> and <c>&lt;!-- end generated --&gt;</c>
/// and <see cref="Regenerate"/> rewrites what is between them.
/// </summary>
public static partial class SpecReference
{
    /// <summary>
    /// The tables there are: <c>top</c> (the root keys and sections), a section's path (its keys, relative to it, without
    /// subsections that have a table of their own), or several sections joined by ',' (their keys with full paths).
    /// </summary>
    public static IReadOnlyList<string> Blocks { get; } =
    [
        "top", "objective", "trainable", "search", "scheduler", "stop", "resources,checkpoint,output", "trainable.quantizer",
        SpecSchema.StabilityKey, "crashes", "telemetry",
    ];

    /// <summary>Stands for any verdict kind in the stability table's keys.</summary>
    public const string VerdictPlaceholder = "<verdict>";

    /// <summary>The Markdown table of <paramref name="block"/> (one of <see cref="Blocks"/>), one line per key, ending in a newline.</summary>
    public static string Markdown(string block)
    {
        var rows = Rows(block);
        var text = new StringBuilder();
        text.Append("| key | type | default | meaning |\n");
        text.Append("| --- | --- | --- | --- |\n");
        foreach (var (key, type, @default, meaning) in rows)
            text.Append($"| {Cell(key)} | {Cell(type)} | {Cell(@default)} | {Cell(meaning)} |\n");
        return text.ToString();
    }

    /// <summary>The settings whose rows <paramref name="block"/>'s table holds.</summary>
    public static IReadOnlyList<Setting> SettingsIn(string block)
    {
        if (!Blocks.Contains(block)) throw new ArgumentException($"unknown reference table '{block}' (known: {string.Join(", ", Blocks)})", nameof(block));
        if (block == "top") return SpecSchema.Settings.Where(s => !s.Path.Contains('.')).ToList();
        var sections = block.Split(',');
        var elsewhere = Blocks.Where(b => b != "top" && !b.Contains(',') && !sections.Contains(b)).ToList();
        return SpecSchema.Settings
            .Where(s => sections.Any(p => s.Path.StartsWith(p + ".", StringComparison.Ordinal)))
            .Where(s => !elsewhere.Any(b => b.Length > 0 && s.Path.StartsWith(b + ".", StringComparison.Ordinal) && sections.Any(p => b.StartsWith(p + ".", StringComparison.Ordinal))))
            .ToList();
    }

    /// <summary>
    /// <paramref name="document"/> with the body of every generated block replaced by its table as the schema renders it now
    /// (between blank lines, so that Markdown sees the comments and the table as separate blocks).
    /// </summary>
    /// <exception cref="ArgumentException">A block names no table.</exception>
    public static string Regenerate(string document) =>
        BlockPattern().Replace(document.ReplaceLineEndings("\n"), m => m.Groups["open"].Value + "\n" + Markdown(m.Groups["name"].Value) + "\n" + m.Groups["close"].Value);

    /// <summary>The names of the generated blocks in <paramref name="document"/>, in order.</summary>
    public static IReadOnlyList<string> BlocksIn(string document) =>
        BlockPattern().Matches(document.ReplaceLineEndings("\n")).Select(m => m.Groups["name"].Value).ToList();

    [GeneratedRegex(@"(?<open><!-- generated: (?<name>[^\s]+)(?:\s[\s\S]*?)?-->\n)(?<body>[\s\S]*?)(?<close><!-- end generated -->)")]
    private static partial Regex BlockPattern();

    private static List<(string Key, string Type, string Default, string Meaning)> Rows(string block)
    {
        var rows = new List<(string, string, string, string)>();
        if (block == "top")
        {
            foreach (var s in SettingsIn(block)) rows.Add(Row(s, s.Path));
            foreach (var section in SpecSchema.Sections.Where(s => !s.Path.Contains('.')))
                rows.Add(($"`{section.Path}`", "mapping", section.Required ? "required" : section.Default ?? "", section.Description));
            return rows;
        }
        var sections = block.Split(',');
        var seen = new HashSet<string>();
        foreach (var s in SettingsIn(block))
        {
            var prefix = sections.Length == 1 ? block + "." : "";
            var key = Generic(s.Path)[prefix.Length..];
            // A section a scalar may stand for (backoff: 30s) has a row of its own, before its keys.
            var parent = s.Path[..s.Path.LastIndexOf('.')];
            if (SpecSchema.FindSection(parent) is { Shorthand: { } shorthand } section && SpecSchema.Find(parent + "." + shorthand) is { } stand
                && seen.Add(Generic(parent)))
                rows.Add(($"`{Generic(parent)[prefix.Length..]}`", TypeOf(stand) + " or mapping", section.Default ?? "", section.Description));
            if (seen.Add(key)) rows.Add(Row(s, key));
        }
        return rows;
    }

    private static (string, string, string, string) Row(Setting s, string key) =>
        ($"`{key}`" + (s.Alias is { } alias ? $" (or `{alias}`)" : ""), TypeOf(s), s.Required ? "required" : s.Default ?? "", s.Description);

    private static string TypeOf(Setting s)
    {
        var type = s.Choices is { Count: > 0 }
            ? string.Join(" | ", s.Choices.Select(c => $"`{c}`"))
            : s.Type switch
            {
                SettingType.Number => "number",
                SettingType.Integer => "integer",
                SettingType.Boolean => "bool",
                SettingType.Duration => "duration",
                SettingType.Changes => "list of `key: change`",
                SettingType.StringList => "list of strings",
                SettingType.Any => "string, number or bool",
                _ => "string",
            };
        if (s.Range is { Text.Length: > 0 } range) type += " " + range.Text;
        return s.Nullable ? type + " or null" : type;
    }

    /// <summary>A path with its verdict kind replaced by <see cref="VerdictPlaceholder"/>: the rules of every kind have the same keys.</summary>
    private static string Generic(string path)
    {
        foreach (var kind in StabilityKinds.Unhealthy)
        {
            var specific = $"{SpecSchema.StabilityKey}.{kind.Word()}";
            if (path == specific || path.StartsWith(specific + ".", StringComparison.Ordinal))
                return $"{SpecSchema.StabilityKey}.{VerdictPlaceholder}{path[specific.Length..]}";
        }
        return path;
    }

    private static string Cell(string text) => text.Replace("\r", "").Replace("\n", " ").Replace("|", "\\|");
}
