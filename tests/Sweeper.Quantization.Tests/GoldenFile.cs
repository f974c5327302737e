using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// The golden vectors: <c>shared/golden/quantizers.json</c> found by walking up from the test binaries
/// (the repository sits at X/main or X/&lt;clone&gt; with shared at X/shared), else the committed copy
/// <c>golden/quantizers.json</c> copied next to the test binaries.
/// </summary>
internal static class GoldenFile
{
    private static readonly Lazy<(string Path, JsonObject Root)> Loaded = new(Load);

    public static string Path => Loaded.Value.Path;

    public static JsonObject Root => Loaded.Value.Root;

    public static IReadOnlyList<JsonObject> Cases => Root["cases"]!.AsArray().Select(c => c!.AsObject()).ToList();

    public static JsonObject Case(string name) => Cases.Single(c => (string)c["name"]! == name);

    public static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "shared", "golden", "quantizers.json");
            if (File.Exists(candidate)) return candidate;
        }

        var fallback = System.IO.Path.Combine(AppContext.BaseDirectory, "golden", "quantizers.json");
        return File.Exists(fallback)
            ? fallback
            : throw new FileNotFoundException("Neither shared/golden/quantizers.json above the test binaries nor the fallback copy was found.", fallback);
    }

    private static (string, JsonObject) Load()
    {
        var path = Locate();
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        return (path, root);
    }

    public static double[] Doubles(JsonNode? node) => node!.AsArray().Select(v => v!.GetValue<double>()).ToArray();

    public static long[] Longs(JsonNode? node) => node!.AsArray().Select(v => v!.GetValue<long>()).ToArray();

    public static float[] Floats(JsonNode? node) => Doubles(node).Select(d => (float)d).ToArray();
}
