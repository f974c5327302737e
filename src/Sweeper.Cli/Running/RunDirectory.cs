using System.Globalization;
using Sweeper.Core.Spec;

namespace Sweeper.Cli.Running;

/// <summary>A sweep's output folder: <c>&lt;output.dir&gt;/&lt;name&gt;-&lt;yyyyMMdd-HHmmss&gt;</c>, created only once the spec is valid.</summary>
public static class RunDirectory
{
    public const string SpecCopy = "spec.yaml";

    public static string Create(SweepSpec spec, string? outputOverride, DateTimeOffset now)
    {
        var parent = Path.GetFullPath(outputOverride ?? spec.Output.Dir);
        var stem = $"{Sanitize(spec.Name)}-{now.ToLocalTime().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}";
        var dir = Path.Combine(parent, stem);
        for (int i = 2; Directory.Exists(dir); i++) dir = Path.Combine(parent, $"{stem}-{i}");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, SpecCopy), spec.SourceText);
        return dir;
    }

    private static string Sanitize(string name)
    {
        var chars = name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray();
        var s = new string(chars).Trim('.');
        return s.Length == 0 ? "sweep" : s;
    }
}
