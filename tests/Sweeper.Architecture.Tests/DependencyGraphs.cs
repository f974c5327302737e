using System.Reflection;
using System.Text.Json;

namespace Sweeper.Architecture.Tests;

/// <summary>Who reaches whom, from the compiled assemblies and from the package graph.</summary>
public static class DependencyGraphs
{
    /// <summary>True when <paramref name="name"/> is <paramref name="pattern"/> or one of its family ("Akka" → "Akka.Remote", "libtorch" → "libtorch-cpu-linux-x64").</summary>
    public static bool Matches(string name, string pattern) =>
        name.Equals(pattern, StringComparison.Ordinal)
        || (name.Length > pattern.Length && name.StartsWith(pattern, StringComparison.Ordinal) && name[pattern.Length] is '.' or '-');

    public static bool IsOurs(string name) => name.StartsWith("Sweeper.", StringComparison.Ordinal) || name == "sweeper";

    /// <summary>
    /// Every assembly <paramref name="project"/>'s compiled assembly references, directly or through an assembly of ours
    /// (Sweeper.*), each with the chain that reaches it ("Sweeper.Cluster -> Sweeper.Core -> YamlDotNet").
    /// </summary>
    public static IReadOnlyDictionary<string, string> AssemblyClosure(string project) =>
        Closure(project, name => IsOurs(name)
            ? Assembly.Load(new AssemblyName(name)).GetReferencedAssemblies().Select(r => r.Name!)
            : []);

    /// <summary>
    /// Every library (package or project) <paramref name="project"/> depends on in the package graph of this test
    /// project's deps.json, through any library, each with the chain that reaches it.
    /// </summary>
    public static IReadOnlyDictionary<string, string> PackageClosure(string project)
    {
        var graph = PackageGraph.Value;
        Assert.True(graph.ContainsKey(project), $"{project} is not in the package graph ({DepsJsonPath})");
        return Closure(project, name => graph.TryGetValue(name, out var deps) ? deps : []);
    }

    private static Dictionary<string, string> Closure(string start, Func<string, IEnumerable<string>> next)
    {
        var chains = new Dictionary<string, string>(StringComparer.Ordinal);
        var queue = new Queue<(string Name, string Chain)>([(start, start)]);
        var visited = new HashSet<string>(StringComparer.Ordinal) { start };
        while (queue.Count > 0)
        {
            var (name, chain) = queue.Dequeue();
            foreach (var dep in next(name))
            {
                if (!visited.Add(dep)) continue;
                var depChain = chain + " -> " + dep;
                chains[dep] = depChain;
                queue.Enqueue((dep, depChain));
            }
        }
        return chains;
    }

    private static string DepsJsonPath => Path.Combine(AppContext.BaseDirectory, typeof(DependencyGraphs).Assembly.GetName().Name + ".deps.json");

    private static readonly Lazy<Dictionary<string, string[]>> PackageGraph = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(DepsJsonPath));
        var target = doc.RootElement.GetProperty("runtimeTarget").GetProperty("name").GetString()!;
        var graph = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var library in doc.RootElement.GetProperty("targets").GetProperty(target).EnumerateObject())
        {
            var name = library.Name[..library.Name.IndexOf('/', StringComparison.Ordinal)];
            graph[name] = library.Value.TryGetProperty("dependencies", out var deps)
                ? deps.EnumerateObject().Select(d => d.Name).ToArray()
                : [];
        }
        return graph;
    });
}
