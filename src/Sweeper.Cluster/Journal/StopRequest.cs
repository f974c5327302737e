using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Journal;

/// <summary>
/// A request to stop the sweep that runs in a run directory (<c>sweeper stop</c>): the file <c>stop.request</c> there,
/// written atomically, naming how (after the running trials' current epoch, or at once), who asked (pid, host) and when.
/// The process that runs the sweep — the holder of <see cref="RunDirectoryLock"/> — looks for it (<see cref="Take"/>)
/// and removes it as it takes it, so a later <c>sweeper resume</c> does not find it.
/// <para>
/// A request written before the holder took its lock is stale (its sweep ended, or crashed, before taking it): it is
/// removed, never acted on. The times compared are the file system's (the lock file's and the request's last write), so
/// a request written from another machine onto a shared run directory is judged by the same clock.
/// </para>
/// </summary>
/// <param name="Now">Stop at once (running trials continue from their newest checkpoint on resume); false: after the current epoch and its checkpoint.</param>
public sealed record StopRequest(bool Now, int Pid, string Host, DateTimeOffset At)
{
    /// <summary>The request file in the run directory.</summary>
    public const string FileName = "stop.request";

    private const string Graceful = "graceful", Immediate = "now";

    /// <summary>A request of this process.</summary>
    public static StopRequest OfThisProcess(bool now) =>
        new(now, Environment.ProcessId, Environment.MachineName, DateTimeOffset.UtcNow);

    /// <summary>Why the sweep stops, naming who asked: the sweep's stop reason and the interrupted trials' reason.</summary>
    public string Reason => string.Create(CultureInfo.InvariantCulture,
        $"{(Now ? "stopped at once" : "stopped")} by request of pid {Pid} on {Host} at {At.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z (sweeper stop{(Now ? " --now" : "")})");

    /// <summary>Writes the request into <paramref name="run"/> (atomically: the holder reads all of it or none), replacing one there.</summary>
    public void WriteTo(RunDirectory run) => AtomicFile.WriteText(run.PathOf(FileName), new JsonObject
    {
        ["mode"] = Now ? Immediate : Graceful,
        ["pid"] = Pid,
        ["host"] = Host,
        ["at"] = At.ToString("O", CultureInfo.InvariantCulture),
    }.ToJsonString() + "\n");

    /// <summary>Whether a request is waiting in <paramref name="run"/> (any, this one or another).</summary>
    public static bool IsWaiting(RunDirectory run) => File.Exists(run.PathOf(FileName));

    /// <summary>Removes this request from <paramref name="run"/> if it is still there (not another one written since); true when it did.</summary>
    public bool Withdraw(RunDirectory run)
    {
        var path = run.PathOf(FileName);
        try
        {
            if (!File.Exists(path) || Parse(File.ReadAllText(path)) != this) return false;
            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException) { return false; }
    }

    /// <summary>
    /// Takes the request waiting in <paramref name="run"/>, if any: renames it aside first (so that exactly one version is
    /// taken, and a request written meanwhile waits for the next look), reads it and removes it. A request last written
    /// before <paramref name="heldSinceUtc"/> (when this process took the run directory's lock) is stale, and one that
    /// cannot be read is malformed: both are removed and returned with <see cref="Found.Ignored"/> saying why.
    /// </summary>
    /// <returns>null when no request waits (or another process took it first).</returns>
    public static Found? Take(RunDirectory run, DateTime heldSinceUtc)
    {
        var path = run.PathOf(FileName);
        if (!File.Exists(path)) return null;
        var taken = $"{path}.{Guid.NewGuid():N}.taken";
        try { File.Move(path, taken); }
        catch (FileNotFoundException) { return null; }
        try
        {
            var writtenAt = File.GetLastWriteTimeUtc(taken);
            StopRequest request;
            try { request = Parse(File.ReadAllText(taken)); }
            catch (FormatException ex) { return new Found(null, $"ignored a malformed stop request ({path}: {ex.Message}); removed it"); }
            if (writtenAt < heldSinceUtc)
                return new Found(null, $"ignored a stop request left from before this sweep started ({request.Reason}); removed it");
            return new Found(request, null);
        }
        finally
        {
            try { File.Delete(taken); }
            catch (IOException) { }
        }
    }

    /// <summary>What <see cref="Take"/> found: a request to act on, or why the file there was ignored (and removed).</summary>
    public sealed record Found(StopRequest? Request, string? Ignored);

    /// <summary>Reads a request file's text; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static StopRequest Parse(string text)
    {
        JsonObject root;
        try { root = JsonNode.Parse(text) as JsonObject ?? throw new FormatException("not a JSON object"); }
        catch (JsonException ex) { throw new FormatException("not JSON: " + ex.Message, ex); }
        try
        {
            var mode = (string?)root["mode"];
            if (mode is not (Graceful or Immediate)) throw new FormatException($"mode must be '{Graceful}' or '{Immediate}', not '{mode}'");
            var pid = (int?)root["pid"] ?? throw new FormatException("no pid");
            var host = (string?)root["host"] ?? throw new FormatException("no host");
            var at = (string?)root["at"] ?? throw new FormatException("no time ('at')");
            if (!DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var when))
                throw new FormatException($"'{at}' is not a time");
            return new StopRequest(mode == Immediate, pid, host, when);
        }
        catch (Exception ex) when (ex is InvalidOperationException or JsonException)
        {
            throw new FormatException("a field has the wrong type: " + ex.Message, ex);
        }
    }
}
