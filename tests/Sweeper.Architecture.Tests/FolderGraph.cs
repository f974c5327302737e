using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Sweeper.Architecture.Tests;

/// <summary>
/// The dependencies between the top-level folders of one assembly (the namespaces one segment below a root, e.g.
/// <c>Sweeper.Core.Spec</c> → <c>Spec</c>), read from the compiled code rather than from <c>using</c> lines: the types
/// named by base types, interfaces, generic arguments and constraints, attributes, fields, properties, events,
/// method and constructor signatures, local variables, catch clauses, and the field, method and type tokens of every
/// method body's IL (a called member counts as a use of its declaring type and of its generic arguments).
/// Nested types (closures, lambdas' <c>&lt;&gt;c</c>, async and iterator state machines, records' nested types)
/// count as their top-level type.
/// </summary>
public sealed partial class FolderGraph
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly OpCode[] OneByte = new OpCode[0x100];
    private static readonly OpCode[] TwoByte = new OpCode[0x100];

    static FolderGraph()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            if (field.GetValue(null) is not OpCode op) continue;
            ushort value = unchecked((ushort)op.Value);
            if (op.Size == 1) OneByte[value] = op;
            else TwoByte[value & 0xFF] = op;
        }
    }

    private readonly Assembly _assembly;
    private readonly string _root;
    private readonly SortedDictionary<string, SortedDictionary<string, SortedSet<string>>> _edges = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _folders = new(StringComparer.Ordinal);

    private FolderGraph(Assembly assembly, string rootNamespace) => (_assembly, _root) = (assembly, rootNamespace);

    /// <summary>The folders that hold at least one type.</summary>
    public IReadOnlyCollection<string> Folders => _folders;

    /// <summary>Every edge between two different folders, with the uses that make it (e.g. "A.B.M uses C.D").</summary>
    public IEnumerable<(string From, string To, IReadOnlyCollection<string> Uses)> Edges =>
        from f in _edges from t in f.Value select (f.Key, t.Key, (IReadOnlyCollection<string>)t.Value);

    public IReadOnlyCollection<string> UsesOf(string from, string to) =>
        _edges.TryGetValue(from, out var targets) && targets.TryGetValue(to, out var uses) ? uses : [];

    /// <summary>Scans every type of <paramref name="assembly"/> whose namespace lies below <paramref name="rootNamespace"/>.</summary>
    public static FolderGraph Build(Assembly assembly, string rootNamespace)
    {
        var graph = new FolderGraph(assembly, rootNamespace);
        foreach (var type in assembly.GetTypes())
        {
            if (graph.FolderOf(type) is not { } folder) continue;
            graph._folders.Add(folder);
            graph.Scan(type, folder);
        }
        return graph;
    }

    /// <summary>The folder of <paramref name="type"/>'s top-level type, or null when it is not one of the assembly's folders.</summary>
    public string? FolderOf(Type type)
    {
        if (type.IsGenericParameter || type.Assembly != _assembly) return null;
        var top = TopLevel(type);
        var ns = top.Namespace;
        if (ns is null || !ns.StartsWith(_root + ".", StringComparison.Ordinal)) return null;
        return ns[(_root.Length + 1)..].Split('.')[0];
    }

    /// <summary>
    /// The strongly connected groups of folders (more than one folder each), each with its elementary cycles through
    /// every edge inside it (the shortest way back), e.g. ["Spec", "Stability", "Spec"].
    /// </summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles()
    {
        var cycles = new List<IReadOnlyList<string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var component in StronglyConnected().Where(c => c.Count > 1))
        {
            foreach (var (from, to, _) in Edges.Where(e => component.Contains(e.From) && component.Contains(e.To)))
            {
                var back = ShortestPath(to, from, component);
                if (back is null) continue;
                var cycle = new List<string> { from };
                cycle.AddRange(back);
                var key = Normalize(cycle);
                if (seen.Add(string.Join(" -> ", key))) cycles.Add(key);
            }
        }
        return cycles.OrderBy(c => c.Count).ThenBy(c => string.Join(" -> ", c), StringComparer.Ordinal).ToList();
    }

    /// <summary>A report of every cycle and every use behind each edge on a cycle (empty when there is none).</summary>
    public string DescribeCycles()
    {
        var cycles = Cycles();
        if (cycles.Count == 0) return "";
        var sb = new StringBuilder();
        sb.AppendLine($"{_root}'s folders depend on each other in cycles:");
        foreach (var cycle in cycles)
        {
            var hops = cycle.Zip(cycle.Skip(1)).Select(h => $"{h.First} -> {h.Second} via {UsesOf(h.First, h.Second).First()}");
            sb.AppendLine($"  {string.Join(" -> ", cycle)}: {string.Join("; ", hops)}");
        }
        sb.AppendLine("Every edge on a cycle, with every use that makes it:");
        var onCycle = cycles.SelectMany(c => c.Zip(c.Skip(1))).Distinct().OrderBy(e => e.First, StringComparer.Ordinal).ThenBy(e => e.Second, StringComparer.Ordinal);
        foreach (var (from, to) in onCycle)
        {
            var uses = UsesOf(from, to);
            sb.AppendLine($"  {from} -> {to} ({uses.Count} use{(uses.Count == 1 ? "" : "s")}):");
            foreach (var use in uses) sb.AppendLine($"    {use}");
        }
        return sb.ToString();
    }

    private static List<string> Normalize(List<string> cycle)
    {
        // cycle = [a, b, ..., a]; rotate so that the smallest folder comes first.
        var ring = cycle.Take(cycle.Count - 1).ToList();
        int start = ring.IndexOf(ring.Min(StringComparer.Ordinal)!);
        var rotated = ring.Skip(start).Concat(ring.Take(start)).ToList();
        rotated.Add(rotated[0]);
        return rotated;
    }

    private List<string>? ShortestPath(string from, string to, IReadOnlySet<string> within)
    {
        var parent = new Dictionary<string, string?>(StringComparer.Ordinal) { [from] = null };
        var queue = new Queue<string>([from]);
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            if (node == to)
            {
                var path = new List<string>();
                for (string? n = to; n is not null; n = parent[n]) path.Add(n);
                path.Reverse();
                return path;
            }
            if (!_edges.TryGetValue(node, out var targets)) continue;
            foreach (var next in targets.Keys)
                if (within.Contains(next) && parent.TryAdd(next, node)) queue.Enqueue(next);
        }
        return null;
    }

    private List<HashSet<string>> StronglyConnected()
    {
        // Tarjan's algorithm.
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<HashSet<string>>();
        int counter = 0;
        var nodes = _folders.Concat(_edges.Keys).Concat(_edges.Values.SelectMany(v => v.Keys)).Distinct().ToList();

        void Visit(string v)
        {
            index[v] = low[v] = counter++;
            stack.Push(v);
            onStack.Add(v);
            if (_edges.TryGetValue(v, out var targets))
            {
                foreach (var w in targets.Keys)
                {
                    if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                    else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
                }
            }
            if (low[v] != index[v]) return;
            var component = new HashSet<string>(StringComparer.Ordinal);
            string x;
            do { x = stack.Pop(); onStack.Remove(x); component.Add(x); } while (x != v);
            result.Add(component);
        }

        foreach (var node in nodes)
            if (!index.ContainsKey(node)) Visit(node);
        return result;
    }

    private void Scan(Type type, string folder)
    {
        string typeName = MemberName(type, null);
        Use(folder, typeName, type.BaseType);
        var inherited = type.BaseType?.GetInterfaces() ?? [];
        foreach (var i in type.GetInterfaces().Except(inherited)) Use(folder, typeName, i);
        if (type.IsGenericTypeDefinition)
            foreach (var p in type.GetGenericArguments())
                foreach (var c in p.GetGenericParameterConstraints()) Use(folder, typeName, c);
        UseAttributes(folder, typeName, type.GetCustomAttributesData());

        foreach (var field in type.GetFields(Declared))
        {
            var name = MemberName(type, field.Name);
            Use(folder, name, field.FieldType);
            UseAttributes(folder, name, field.GetCustomAttributesData());
        }
        foreach (var property in type.GetProperties(Declared))
        {
            var name = MemberName(type, property.Name);
            Use(folder, name, property.PropertyType);
            UseAttributes(folder, name, property.GetCustomAttributesData());
        }
        foreach (var e in type.GetEvents(Declared)) Use(folder, MemberName(type, e.Name), e.EventHandlerType);
        foreach (var method in type.GetMethods(Declared)) ScanMethod(type, folder, method);
        foreach (var ctor in type.GetConstructors(Declared)) ScanMethod(type, folder, ctor);
    }

    private void ScanMethod(Type type, string folder, MethodBase method)
    {
        var name = MemberName(type, method.Name);
        if (method is MethodInfo info)
        {
            Use(folder, name, info.ReturnType);
            if (info.IsGenericMethodDefinition)
                foreach (var p in info.GetGenericArguments())
                    foreach (var c in p.GetGenericParameterConstraints()) Use(folder, name, c);
        }
        foreach (var parameter in method.GetParameters())
        {
            Use(folder, name, parameter.ParameterType);
            UseAttributes(folder, name, parameter.GetCustomAttributesData());
        }
        UseAttributes(folder, name, method.GetCustomAttributesData());

        var body = method.GetMethodBody();
        if (body is null) return;
        foreach (var local in body.LocalVariables) Use(folder, name, local.LocalType);
        foreach (var clause in body.ExceptionHandlingClauses)
            if (clause.Flags == ExceptionHandlingClauseOptions.Clause) Use(folder, name, clause.CatchType);
        var il = body.GetILAsByteArray();
        if (il is not null) ScanIl(folder, name, method, il);
    }

    private void ScanIl(string folder, string name, MethodBase method, byte[] il)
    {
        var module = method.Module;
        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method is MethodInfo { IsGenericMethod: true } m ? m.GetGenericArguments() : null;
        int i = 0;
        while (i < il.Length)
        {
            int at = i;
            byte b = il[i++];
            var op = b == 0xFE ? TwoByte[il[i++]] : OneByte[b];
            if (op.Size == 0) throw new InvalidOperationException($"{name}: unknown IL opcode 0x{b:X2} at {at}");
            switch (op.OperandType)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8:
                case OperandType.InlineR:
                    i += 8;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + 4 * BitConverter.ToInt32(il, i);
                    break;
                case OperandType.InlineField:
                    UseMember(folder, name, module.ResolveField(BitConverter.ToInt32(il, i), typeArgs, methodArgs));
                    i += 4;
                    break;
                case OperandType.InlineMethod:
                    UseMember(folder, name, module.ResolveMethod(BitConverter.ToInt32(il, i), typeArgs, methodArgs));
                    i += 4;
                    break;
                case OperandType.InlineType:
                    Use(folder, name, module.ResolveType(BitConverter.ToInt32(il, i), typeArgs, methodArgs));
                    i += 4;
                    break;
                case OperandType.InlineTok:
                    UseMember(folder, name, module.ResolveMember(BitConverter.ToInt32(il, i), typeArgs, methodArgs));
                    i += 4;
                    break;
                default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    i += 4;
                    break;
            }
        }
    }

    private void UseMember(string folder, string name, MemberInfo? member)
    {
        switch (member)
        {
            case Type t:
                Use(folder, name, t);
                break;
            case MethodInfo { IsGenericMethod: true } generic:
                Use(folder, name, generic.DeclaringType);
                foreach (var arg in generic.GetGenericArguments()) Use(folder, name, arg);
                break;
            case not null:
                Use(folder, name, member.DeclaringType);
                break;
        }
    }

    private void UseAttributes(string folder, string name, IEnumerable<CustomAttributeData> attributes)
    {
        foreach (var a in attributes)
        {
            Use(folder, name, a.AttributeType);
            foreach (var arg in a.ConstructorArguments.Concat(a.NamedArguments.Select(n => n.TypedValue)))
                if (arg.Value is Type t) Use(folder, name, t);
        }
    }

    private void Use(string folder, string name, Type? used)
    {
        foreach (var t in Expand(used, 0))
        {
            if (FolderOf(t) is not { } to || to == folder) continue;
            if (!_edges.TryGetValue(folder, out var targets)) _edges[folder] = targets = new(StringComparer.Ordinal);
            if (!targets.TryGetValue(to, out var uses)) targets[to] = uses = new(StringComparer.Ordinal);
            uses.Add($"{name} uses {Display(t)}");
        }
    }

    private static IEnumerable<Type> Expand(Type? type, int depth)
    {
        if (type is null || depth > 32 || type.IsGenericParameter) yield break;
        if (type.HasElementType)
        {
            foreach (var t in Expand(type.GetElementType(), depth + 1)) yield return t;
            yield break;
        }
        if (type.IsFunctionPointer) yield break;
        if (type.IsConstructedGenericType)
        {
            yield return type.GetGenericTypeDefinition();
            foreach (var arg in type.GetGenericArguments())
                foreach (var t in Expand(arg, depth + 1)) yield return t;
            yield break;
        }
        yield return type;
    }

    private static Type TopLevel(Type type)
    {
        while (type.DeclaringType is { } outer) type = outer;
        return type;
    }

    private static bool IsGenerated(Type type)
    {
        for (var t = type; t.DeclaringType is not null; t = t.DeclaringType)
            if (t.Name.StartsWith('<') || t.IsDefined(typeof(CompilerGeneratedAttribute), false)) return true;
        return false;
    }

    /// <summary>
    /// "Namespace.Type.Member"; a member of a compiler-generated nested type is named after its top-level type and the
    /// source member it came from (<c>&lt;Parse&gt;b__3_0</c> and <c>&lt;RunAsync&gt;d__5.MoveNext</c> → <c>Parse</c>, <c>RunAsync</c>).
    /// </summary>
    private static string MemberName(Type type, string? member)
    {
        if (IsGenerated(type))
        {
            var source = SourceName(member) ?? SourceNameOfTypes(type);
            return Display(TopLevel(type)) + (source is null ? "" : "." + source);
        }
        if (member is null) return Display(type);
        return Display(type) + "." + (SourceName(member) ?? member.TrimStart('.'));
    }

    private static string? SourceNameOfTypes(Type type)
    {
        for (var t = type; t.DeclaringType is not null; t = t.DeclaringType)
            if (SourceName(t.Name) is { } name) return name;
        return null;
    }

    private static string? SourceName(string? generated)
    {
        if (generated is null || !generated.StartsWith('<')) return null;
        // <Parse>b__3_0, <RunAsync>d__5, <Name>k__BackingField, <.ctor>b__0_0 name their source member; <>c, <>9__3_0 and
        // the method-group cache's <0>__Word do not.
        int close = generated.IndexOf('>', StringComparison.Ordinal);
        if (close <= 1) return null;
        var name = generated[1..close].TrimStart('.');
        return name.Length == 0 || name.All(char.IsAsciiDigit) ? null : name;
    }

    private static string Display(Type type) => Arity().Replace((type.FullName ?? type.Name).Replace('+', '.'), "");

    [GeneratedRegex("`[0-9]+")]
    private static partial Regex Arity();
}
