using System.Diagnostics;
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
    private const int Esrch = 3;

    /// <summary>Sends <paramref name="signal"/> to every process of group <paramref name="pgid"/>; false when the group has no member.</summary>
    public static bool Signal(int pgid, int signal)
    {
        if (pgid <= 1) throw new ArgumentOutOfRangeException(nameof(pgid), pgid, "not a program's process group");
        if (Kill(-pgid, signal) == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == Esrch) return false;
        throw new InvalidOperationException($"kill(-{pgid}, {signal}) failed with errno {errno}");
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

    /// <summary>Whether process <paramref name="pid"/> exists and is not a zombie (Linux: from <c>/proc</c>).</summary>
    public static bool IsAlive(int pid) => OperatingSystem.IsLinux()
        ? Stat(Path.Combine("/proc", pid.ToString(CultureInfo.InvariantCulture))) is { State: not ('Z' or 'X' or 'x') }
        : Kill(pid, 0) == 0;

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

    /// <summary>Waits until no member of <paramref name="pgid"/> is alive, polling; false when <paramref name="timeout"/> passed first.</summary>
    public static bool WaitUntilGone(int pgid, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (!HasLiveMembers(pgid)) return true;
            if (clock.Elapsed >= timeout) return false;
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Clamp((timeout - clock.Elapsed).TotalMilliseconds, 1, 25)));
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int sig);
}
