using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Sweeper.Core.Spec;

/// <summary>A YAML node with the place it was read from. The loader works on this tree, never on raw text.</summary>
public abstract record YNode(SourceLocation Location);

/// <summary>A scalar; <see cref="Quoted"/> is true for '...' and "..." (always strings), false for plain scalars.</summary>
public sealed record YScalar(string Value, bool Quoted, SourceLocation Location) : YNode(Location)
{
    public bool IsNull => !Quoted && Value is "" or "~" or "null" or "Null" or "NULL";
}

public sealed record YSequence(IReadOnlyList<YNode> Items, SourceLocation Location) : YNode(Location);

public sealed record YMapping(IReadOnlyList<KeyValuePair<YScalar, YNode>> Entries, SourceLocation Location) : YNode(Location)
{
    public YNode? this[string key] => Entries.FirstOrDefault(e => e.Key.Value == key).Value;
}

/// <summary>
/// Reads YAML text into a <see cref="YNode"/> tree with locations. Duplicate keys, non-scalar keys, several
/// documents and syntax errors become <see cref="SpecError"/>s; anchors and aliases are resolved. Lists and mappings
/// nested deeper than <see cref="MaxDepth"/> are an error (an alias counts with the depth of the node it names), so a
/// hostile file cannot exhaust the stack.
/// </summary>
public static class YamlTreeReader
{
    /// <summary>Deepest nesting of lists and mappings accepted; a sweep spec needs about 5.</summary>
    public const int MaxDepth = 64;

    public static YNode? Read(string text, string file, List<SpecError> errors)
    {
        var parser = new Parser(new StringReader(text));
        var anchors = new Dictionary<string, (YNode Node, int Height)>();
        var open = new Stack<(SourceLocation At, char Bracket)>();
        try
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out _))
            {
                errors.Add(new SpecError(file, new SourceLocation(1, 1), "", "the spec is empty; expected a mapping with at least 'name', 'objective' and 'trainable'"));
                return null;
            }
            parser.Consume<DocumentStart>();
            var root = ReadNode(parser, file, anchors, open, errors, 0, out _);
            parser.Consume<DocumentEnd>();
            if (!parser.Accept<StreamEnd>(out _))
            {
                var at = parser.Current?.Start ?? Mark.Empty;
                errors.Add(new SpecError(file, Loc(at), "", "the file holds more than one YAML document; expected exactly one"));
            }
            if (root is YScalar { IsNull: true })
            {
                errors.Add(new SpecError(file, root.Location, "", "the spec is empty; expected a mapping with at least 'name', 'objective' and 'trainable'"));
                return null;
            }
            return root;
        }
        catch (TooDeepException ex)
        {
            errors.Add(new SpecError(file, ex.At, "", $"lists and mappings are nested more than {MaxDepth} levels deep here; a spec needs far fewer"));
            return null;
        }
        catch (InvalidOperationException)
        {
            // The parser ran out of events inside a collection: an unclosed bracket or brace.
            if (parser.Current is SequenceStart { Style: SequenceStyle.Flow } sq) open.Push((Loc(sq.Start), '['));
            else if (parser.Current is MappingStart { Style: MappingStyle.Flow } mp) open.Push((Loc(mp.Start), '{'));
            if (open.Count > 0)
            {
                var (at, bracket) = open.Peek();
                errors.Add(new SpecError(file, at, "", $"YAML syntax error: this '{bracket}' is never closed"));
            }
            else
            {
                int lines = text.Split('\n').Length - (text.EndsWith('\n') ? 1 : 0);
                errors.Add(new SpecError(file, new SourceLocation(Math.Max(1, lines), 1), "", "YAML syntax error: the file ends inside a list or mapping"));
            }
            return null;
        }
        catch (YamlException ex)
        {
            // YamlDotNet's messages start with "(Line: …, Col: …, …): "; the location is given separately.
            var message = ex.Message;
            int cut = message.IndexOf("): ", StringComparison.Ordinal);
            if (message.StartsWith("(Line", StringComparison.Ordinal) && cut > 0) message = message[(cut + 3)..];
            errors.Add(new SpecError(file, Loc(ex.Start), "", "YAML syntax error: " + message.TrimEnd('.')));
            return null;
        }
    }

    /// <param name="depth">Lists and mappings around this node.</param>
    /// <param name="height">Lists and mappings nested in this node, itself included (0 for a scalar).</param>
    private static YNode ReadNode(IParser parser, string file, Dictionary<string, (YNode Node, int Height)> anchors, Stack<(SourceLocation At, char Bracket)> open, List<SpecError> errors, int depth, out int height)
    {
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            if (anchors.TryGetValue(alias.Value.Value, out var target))
            {
                if (depth + target.Height > MaxDepth) throw new TooDeepException(Loc(alias.Start));
                height = target.Height;
                return target.Node;
            }
            throw new YamlException(alias.Start, alias.End, $"unknown alias '*{alias.Value.Value}' (a change such as \"*0.5\" must be quoted)");
        }
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            var node = new YScalar(scalar.Value, scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded, Loc(scalar.Start));
            height = 0;
            Remember(scalar.Anchor, node, height, anchors);
            return node;
        }
        if (parser.TryConsume<SequenceStart>(out var seqStart))
        {
            if (depth + 1 > MaxDepth) throw new TooDeepException(Loc(seqStart.Start));
            if (seqStart.Style == SequenceStyle.Flow) open.Push((Loc(seqStart.Start), '['));
            var items = new List<YNode>();
            int inner = 0;
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                items.Add(ReadNode(parser, file, anchors, open, errors, depth + 1, out var h));
                inner = Math.Max(inner, h);
            }
            if (seqStart.Style == SequenceStyle.Flow) open.Pop();
            var node = new YSequence(items, Loc(seqStart.Start));
            height = inner + 1;
            Remember(seqStart.Anchor, node, height, anchors);
            return node;
        }
        if (parser.TryConsume<MappingStart>(out var mapStart))
        {
            if (depth + 1 > MaxDepth) throw new TooDeepException(Loc(mapStart.Start));
            if (mapStart.Style == MappingStyle.Flow) open.Push((Loc(mapStart.Start), '{'));
            var entries = new List<KeyValuePair<YScalar, YNode>>();
            var seen = new Dictionary<string, YScalar>();
            int inner = 0;
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var keyNode = ReadNode(parser, file, anchors, open, errors, depth + 1, out var keyHeight);
                var value = ReadNode(parser, file, anchors, open, errors, depth + 1, out var valueHeight);
                inner = Math.Max(inner, Math.Max(keyHeight, valueHeight));
                if (keyNode is not YScalar key)
                {
                    errors.Add(new SpecError(file, keyNode.Location, "", "a mapping key must be a plain name, not a list or mapping"));
                    continue;
                }
                if (seen.TryGetValue(key.Value, out var first))
                {
                    errors.Add(new SpecError(file, key.Location, key.Value, $"duplicate key '{key.Value}' (first defined at line {first.Location.Line}, column {first.Location.Column})"));
                    continue;
                }
                seen[key.Value] = key;
                entries.Add(new(key, value));
            }
            if (mapStart.Style == MappingStyle.Flow) open.Pop();
            var node = new YMapping(entries, Loc(mapStart.Start));
            height = inner + 1;
            Remember(mapStart.Anchor, node, height, anchors);
            return node;
        }
        var ev = parser.Current;
        throw new YamlException(ev?.Start ?? Mark.Empty, ev?.End ?? Mark.Empty, $"unexpected YAML event {ev?.GetType().Name}");
    }

    private sealed class TooDeepException(SourceLocation at) : Exception
    {
        public SourceLocation At { get; } = at;
    }

    private static void Remember(AnchorName anchor, YNode node, int height, Dictionary<string, (YNode Node, int Height)> anchors)
    {
        if (!anchor.IsEmpty) anchors[anchor.Value] = (node, height);
    }

    private static SourceLocation Loc(Mark mark) => new((int)Math.Max(1, mark.Line), (int)Math.Max(1, mark.Column));
}
