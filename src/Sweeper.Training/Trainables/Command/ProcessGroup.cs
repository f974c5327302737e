using System.Globalization;
using System.Runtime.InteropServices;

namespace Sweeper.Training.Trainables.Command;

/// <summary>
/// Signals to a program's process group (POSIX <c>kill(-pgid, sig)</c>) and whether any of its members still runs.
/// Zombies count as gone: an orphan that died stays a zombie until its new parent reaps it, which a container's init
/// may never do.
/// </summary>
internal static class ProcessGroup
{
    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int Esrch = 3;

    /// <summary>
    /// Sends <paramref name="signal"/> to every process of group <paramref name="pgid"/>; returns 0, or the errno of the
    /// failure (<see cref="Esrch"/>: the group has no member).
    /// </summary>
    public static int Signal(int pgid, int signal)
    {
        if (pgid <= 1) throw new ArgumentOutOfRangeException(nameof(pgid), pgid, "not a program's process group");
        return Kill(-pgid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Sends <paramref name="signal"/> to process <paramref name="pid"/> alone; false when it does not exist.</summary>
    public static bool SignalProcess(int pid, int signal) => pid > 1 && Kill(pid, signal) == 0;

    /// <summary>Whether a process of group <paramref name="pgid"/> is alive (not a zombie).</summary>
    public static bool HasLiveMembers(int pgid)
    {
        if (!OperatingSystem.IsLinux()) return Kill(-pgid, 0) == 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
            if (Stat(dir) is { } stat && stat.Pgrp == pgid && stat.State is not ('Z' or 'X' or 'x')) return true;
        }
        return false;
    }

    /// <summary>The state and process group of a process from <c>/proc/&lt;pid&gt;/stat</c>, or null when it is gone.</summary>
    public static (char State, int Ppid, int Pgrp)? Stat(string procDir)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(procDir, "stat"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // "pid (comm) S ppid pgrp ...": comm may hold spaces and parentheses, so read after the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0) return null;
        var fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 3 || fields[0].Length != 1) return null;
        return int.TryParse(fields[1], CultureInfo.InvariantCulture, out int ppid) && int.TryParse(fields[2], CultureInfo.InvariantCulture, out int pgrp)
            ? (fields[0][0], ppid, pgrp)
            : null;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int sig);
}
