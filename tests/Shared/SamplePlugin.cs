using System.Diagnostics;

namespace Sweeper.Tests.Shared;

/// <summary>
/// samples/TinyResNet, built once per test run (<c>dotnet build samples/TinyResNet -c Release</c>; other test processes
/// wait on a lock file while one builds). One source, linked into the test projects that need it.
/// </summary>
internal static class SamplePlugin
{
    public const string Type = "TinyResNet.TinyResNetModel";

    private static readonly Lazy<string> Built = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The built plug-in's assembly (absolute path).</summary>
    public static string AssemblyPath => Built.Value;

    private static string Build()
    {
        var project = Repository.Path("samples", "TinyResNet");
        var output = Path.Combine(project, "bin", "Release", "net10.0", "TinyResNet.dll");
        Directory.CreateDirectory(Path.Combine(project, "obj"));
        using var buildLock = Lock(Path.Combine(project, "obj", "sweeper-tests.lock"));
        var start = new ProcessStartInfo("dotnet", ["build", project, "-c", "Release", "-nologo", "-v", "q", "-clp:ErrorsOnly"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("dotnet build samples/TinyResNet took more than 5 minutes.");
        }
        if (process.ExitCode != 0 || !File.Exists(output))
            throw new InvalidOperationException($"dotnet build samples/TinyResNet failed ({process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return output;
    }

    private static FileStream Lock(string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }
        }
    }
}
