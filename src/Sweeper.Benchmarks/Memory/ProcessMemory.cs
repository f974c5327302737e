using System.Globalization;

namespace Sweeper.Benchmarks.Memory;

/// <summary>
/// One reading of this process's memory: resident set (VmRSS), its anonymous part (RssAnon: heap, arenas, tensors —
/// the file-backed rest is code and mapped files the kernel may drop and read again), its peak (VmHWM), and the managed heap.
/// </summary>
public sealed record MemorySample(string Label, int Trials, long RssBytes, long PeakRssBytes, long ManagedHeapBytes, long AnonRssBytes = 0)
{
    public static double Megabytes(long bytes) => bytes / (1024.0 * 1024.0);
}

/// <summary>Reads <c>/proc/self/status</c> (Linux): VmRSS, VmHWM and RssAnon, in bytes.</summary>
public static class ProcessMemory
{
    public const string StatusFile = "/proc/self/status";

    /// <summary>VmRSS, VmHWM and RssAnon of this process, in bytes.</summary>
    /// <exception cref="PlatformNotSupportedException">No <c>/proc/self/status</c> (not Linux).</exception>
    public static (long Rss, long Peak, long Anon) Read()
    {
        if (!File.Exists(StatusFile)) throw new PlatformNotSupportedException($"{StatusFile} does not exist: memory figures need Linux's /proc.");
        long rss = -1, peak = -1, anon = -1;
        foreach (var line in File.ReadLines(StatusFile))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = ParseKilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = ParseKilobytes(line);
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = ParseKilobytes(line);
        }
        if (rss < 0 || peak < 0 || anon < 0) throw new InvalidDataException($"{StatusFile} has no VmRSS, VmHWM or RssAnon line.");
        return (rss, peak, anon);
    }

    /// <summary>A sample now; the managed heap is the GC's heap size after the last collection (no collection is forced).</summary>
    public static MemorySample Sample(string label, int trials)
    {
        var (rss, peak, anon) = Read();
        return new MemorySample(label, trials, rss, peak, GC.GetGCMemoryInfo().HeapSizeBytes, anon);
    }

    /// <summary>"VmRSS:    123456 kB" → 123456 × 1024.</summary>
    public static long ParseKilobytes(string line)
    {
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3 || parts[2] != "kB" || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb))
            throw new InvalidDataException($"unexpected line in {StatusFile}: '{line}'");
        return kb * 1024;
    }
}
