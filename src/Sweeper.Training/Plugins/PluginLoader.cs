using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Loader;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Training.Plugins;

/// <summary>What a plug-in type is: a model to quantize and train, or a whole training loop.</summary>
public enum PluginKind
{
    /// <summary>An <see cref="ISweeperModel"/>: trained by the TorchSharp trainable.</summary>
    Model,

    /// <summary>An <see cref="ITrainable"/>: its own loop.</summary>
    Trainable,
}

/// <summary>A plug-in that cannot be loaded, found or constructed; the message names the spec key and says why.</summary>
public sealed class PluginLoadException : Exception
{
    public PluginLoadException(string message) : base(message) { }
    public PluginLoadException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Loads model plug-ins (<see cref="ModelPluginSpec"/>): each assembly file into its own
/// <see cref="AssemblyLoadContext"/> (one per full path, kept for the life of the process), whose private dependencies
/// come from the assembly's folder (its <c>.deps.json</c>, through <see cref="AssemblyDependencyResolver"/>), while
/// Sweeper's, TorchSharp's and every assembly the host has already loaded are the host's own, so that the plug-in's
/// <see cref="ISweeperModel"/>, <see cref="ITrainable"/> and TorchSharp types are the host's types. Thread-safe.
/// </summary>
public static class PluginLoader
{
    /// <summary>At most this many candidate types are listed when the named one is not found.</summary>
    public const int MaxListedTypes = 10;

    private const string AssemblyKey = "trainable.model.assembly";
    private const string TypeKey = "trainable.model.type";

    private static readonly ConcurrentDictionary<string, Lazy<Assembly>> Loaded = new(StringComparer.Ordinal);

    /// <summary>
    /// Validate-time check: loads the assembly, finds the type and checks its interface and constructor (an
    /// <see cref="ISweeperModel"/> is also constructed, which builds no module). Null when the plug-in is usable,
    /// else the error (see <see cref="Resolve"/>).
    /// </summary>
    public static string? Check(ModelPluginSpec plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        try
        {
            var (type, kind) = Resolve(plugin);
            if (kind == PluginKind.Model) _ = Construct<ISweeperModel>(type, []);
            return null;
        }
        catch (PluginLoadException e)
        {
            return e.Message;
        }
    }

    /// <summary>The plug-in's type and what it is.</summary>
    /// <exception cref="PluginLoadException">
    /// The file is missing or not a .NET assembly; the type is not in it (the message lists up to
    /// <see cref="MaxListedTypes"/> public types that would do, or the closest name); the type implements neither
    /// interface, is abstract or generic, or has no suitable public constructor.
    /// </exception>
    public static (Type Type, PluginKind Kind) Resolve(ModelPluginSpec plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        var assembly = Load(plugin.Assembly);
        var type = FindType(assembly, plugin);
        PluginKind kind;
        if (typeof(ISweeperModel).IsAssignableFrom(type)) kind = PluginKind.Model;
        else if (typeof(ITrainable).IsAssignableFrom(type)) kind = PluginKind.Trainable;
        else
            throw new PluginLoadException(
                $"{TypeKey}: '{type.FullName}' implements neither {typeof(ISweeperModel).FullName} nor {typeof(ITrainable).FullName}");
        if (type.IsAbstract || type.IsInterface)
            throw new PluginLoadException($"{TypeKey}: '{type.FullName}' is {(type.IsInterface ? "an interface" : "abstract")}; name a concrete class");
        if (type.ContainsGenericParameters)
            throw new PluginLoadException($"{TypeKey}: '{type.FullName}' is an open generic type; name a concrete class");
        if (kind == PluginKind.Model && type.GetConstructor(Type.EmptyTypes) is null)
            throw new PluginLoadException($"{TypeKey}: '{type.FullName}' has no public parameterless constructor (an ISweeperModel needs one)");
        if (kind == PluginKind.Trainable && TrainableConstructor(type, withContext: true) is null && TrainableConstructor(type, withContext: false) is null)
            throw new PluginLoadException(
                $"{TypeKey}: '{type.FullName}' has no public constructor ({nameof(TrialConfig)} config) or ({nameof(TrialConfig)} config, {nameof(TrialContext)} context)");
        return (type, kind);
    }

    /// <summary>What the plug-in's type is.</summary>
    /// <exception cref="PluginLoadException">See <see cref="Resolve"/>.</exception>
    public static PluginKind KindOf(ModelPluginSpec plugin) => Resolve(plugin).Kind;

    /// <summary>A new instance of a model plug-in.</summary>
    /// <exception cref="PluginLoadException">See <see cref="Resolve"/>; an <see cref="ITrainable"/> type; or its constructor threw.</exception>
    public static ISweeperModel CreateModel(ModelPluginSpec plugin)
    {
        var (type, kind) = Resolve(plugin);
        if (kind != PluginKind.Model)
            throw new PluginLoadException($"{TypeKey}: '{type.FullName}' is an ITrainable (its own training loop), not an ISweeperModel");
        return Construct<ISweeperModel>(type, []);
    }

    /// <summary>
    /// A new instance of a training-loop plug-in for <paramref name="config"/>: its <c>(TrialConfig, TrialContext)</c>
    /// constructor when there is a <paramref name="context"/> and the type has one, else its <c>(TrialConfig)</c> one.
    /// </summary>
    /// <exception cref="PluginLoadException">See <see cref="Resolve"/>; an <see cref="ISweeperModel"/> type; no constructor for the arguments at hand; or the constructor threw.</exception>
    public static ITrainable CreateTrainable(ModelPluginSpec plugin, TrialConfig config, TrialContext? context)
    {
        ArgumentNullException.ThrowIfNull(config);
        var (type, kind) = Resolve(plugin);
        if (kind != PluginKind.Trainable)
            throw new PluginLoadException($"{TypeKey}: '{type.FullName}' is an ISweeperModel, not an ITrainable");
        if (context is not null && TrainableConstructor(type, withContext: true) is not null)
            return Construct<ITrainable>(type, [config, context]);
        if (TrainableConstructor(type, withContext: false) is not null)
            return Construct<ITrainable>(type, [config]);
        throw new PluginLoadException(
            $"{TypeKey}: '{type.FullName}' needs a {nameof(TrialContext)} (its only constructor is ({nameof(TrialConfig)}, {nameof(TrialContext)})), and none was given");
    }

    private static ConstructorInfo? TrainableConstructor(Type type, bool withContext) =>
        type.GetConstructor(withContext ? [typeof(TrialConfig), typeof(TrialContext)] : [typeof(TrialConfig)]);

    private static T Construct<T>(Type type, object[] arguments)
    {
        try
        {
            return (T)Activator.CreateInstance(type, arguments)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            throw new PluginLoadException($"{TypeKey}: the constructor of '{type.FullName}' threw {inner.GetType().Name}: {inner.Message}", inner);
        }
    }

    private static Assembly Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new PluginLoadException($"{AssemblyKey}: file '{full}' does not exist");
        var lazy = Loaded.GetOrAdd(full, p => new Lazy<Assembly>(() => new PluginLoadContext(p).LoadFromAssemblyPath(p)));
        try
        {
            return lazy.Value;
        }
        catch (Exception e)
        {
            Loaded.TryRemove(new KeyValuePair<string, Lazy<Assembly>>(full, lazy)); // try again next time (e.g. after a rebuild)
            throw e switch
            {
                BadImageFormatException => new PluginLoadException($"{AssemblyKey}: '{full}' is not a .NET assembly ({e.Message})", e),
                _ => new PluginLoadException($"{AssemblyKey}: cannot load '{full}': {e.Message}", e),
            };
        }
    }

    private static Type FindType(Assembly assembly, ModelPluginSpec plugin)
    {
        var location = assembly.Location;
        if (string.IsNullOrWhiteSpace(plugin.Type)) throw new PluginLoadException($"{TypeKey}: empty type name");
        Type? type;
        try
        {
            type = assembly.GetType(plugin.Type, throwOnError: false, ignoreCase: false);
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or TypeLoadException or BadImageFormatException)
        {
            throw new PluginLoadException($"{TypeKey}: cannot load '{plugin.Type}' from '{location}': {e.Message}", e);
        }
        if (type is not null)
        {
            if (!type.IsVisible) throw new PluginLoadException($"{TypeKey}: '{type.FullName}' in '{location}' is not public");
            return type;
        }

        var candidates = Candidates(assembly, location);
        var nearest = Nearest(plugin.Type, candidates);
        string hint = nearest is not null
            ? $"; did you mean '{nearest}'?"
            : candidates.Count == 0
                ? $"; it has no public type that implements {nameof(ISweeperModel)} or {nameof(ITrainable)}"
                : $"; public types there that implement {nameof(ISweeperModel)} or {nameof(ITrainable)}: {string.Join(", ", candidates.Take(MaxListedTypes))}"
                  + (candidates.Count > MaxListedTypes ? $" (and {candidates.Count - MaxListedTypes} more)" : "");
        throw new PluginLoadException($"{TypeKey}: no type '{plugin.Type}' in '{location}'{hint}");
    }

    /// <summary>Full names of the assembly's public concrete types that implement either plug-in interface, sorted.</summary>
    private static List<string> Candidates(Assembly assembly, string location)
    {
        Type[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            types = e.Types.Where(t => t is not null).ToArray()!;
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or TypeLoadException)
        {
            throw new PluginLoadException($"{TypeKey}: cannot read the types of '{location}': {e.Message}", e);
        }
        return types
            .Where(t => !t.IsAbstract && (typeof(ISweeperModel).IsAssignableFrom(t) || typeof(ITrainable).IsAssignableFrom(t)))
            .Select(t => t.FullName!)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The candidate with the same simple or full name ignoring case, else the one within edit distance ⌈len/3⌉.</summary>
    private static string? Nearest(string wanted, IReadOnlyList<string> candidates)
    {
        static string Simple(string name) => name[(name.LastIndexOfAny(['.', '+']) + 1)..];
        var exact = candidates.FirstOrDefault(c => string.Equals(c, wanted, StringComparison.OrdinalIgnoreCase)
            || string.Equals(Simple(c), Simple(wanted), StringComparison.OrdinalIgnoreCase));
        if (exact is not null) return exact;
        return candidates
            .Select(c => (Name: c, Distance: Math.Min(Levenshtein(c.ToLowerInvariant(), wanted.ToLowerInvariant()), Levenshtein(Simple(c).ToLowerInvariant(), Simple(wanted).ToLowerInvariant()))))
            .Where(c => c.Distance <= Math.Max(1, (Simple(wanted).Length + 2) / 3))
            .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => c.Name)
            .FirstOrDefault();
    }

    private static int Levenshtein(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>
    /// One plug-in assembly's load context: the host's assemblies are shared (Sweeper.*, TorchSharp, and whatever the
    /// default context has loaded or can find), everything else comes from the plug-in's folder.
    /// </summary>
    private sealed class PluginLoadContext(string path) : AssemblyLoadContext($"sweeper-plugin:{path}", isCollectible: false)
    {
        private readonly AssemblyDependencyResolver resolver = new(path);

        protected override Assembly? Load(AssemblyName name)
        {
            if (IsShared(name)) return null; // the default context's copy: one ISweeperModel, one Tensor
            var file = resolver.ResolveAssemblyToPath(name);
            return file is not null && File.Exists(file) ? LoadFromAssemblyPath(file) : null;
        }

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
        {
            var file = resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
            return file is not null ? LoadUnmanagedDllFromPath(file) : IntPtr.Zero;
        }

        private static bool IsShared(AssemblyName name)
        {
            var simple = name.Name ?? "";
            if (simple.StartsWith("Sweeper.", StringComparison.Ordinal) || simple == "TorchSharp") return true;
            return Default.Assemblies.Any(a => string.Equals(a.GetName().Name, simple, StringComparison.Ordinal));
        }
    }
}
