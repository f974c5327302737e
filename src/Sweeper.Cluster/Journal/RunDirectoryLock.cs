using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Sweeper.Cluster.Journal;

/// <summary>
/// The run directory's owner: the one process that runs (or resumes) its sweep, held for that process's life in
/// <c>sweeper.lock</c>. The lock is the operating system's (a POSIX record lock, <see cref="FileStream.Lock"/>), so it
/// goes away with the process however that ends (kill -9 too): the file left behind means nothing by itself. The file
/// holds the holder's pid and host, for the message a second process gets. Readers (<c>sweeper report</c>) take no lock.
/// </summary>
/// <remarks>
/// Record locks belong to a process, not to an open file: a second lock in the same process would succeed, and closing
/// it would drop the first. So this process also keeps the set of directories it holds and refuses a second lock itself.
/// Where the file system has no locks (some network mounts without a lock manager), nothing is enforced.
/// </remarks>
public sealed class RunDirectoryLock : IDisposable
{
    /// <summary>The lock file in the run directory.</summary>
    public const string FileName = "sweeper.lock";

    // The locked byte lies past the pid text, so that the text stays readable on systems with mandatory locks too.
    private const long LockedByte = 1L << 20;

    private static readonly HashSet<string> HeldHere = new(StringComparer.Ordinal);
    private static readonly Lock Gate = new();

    private readonly FileStream _file;
    private readonly string _path;

    private RunDirectoryLock(FileStream file, string path)
    {
        _file = file;
        _path = path;
    }

    /// <summary>Takes the lock of <paramref name="run"/> (an existing folder) at once, or throws <see cref="RunDirectoryBusyException"/>.</summary>
    public static RunDirectoryLock Acquire(RunDirectory run)
    {
        var path = run.PathOf(FileName);
        lock (Gate)
            if (!HeldHere.Add(path)) throw new RunDirectoryBusyException(run.Path, $"pid {Environment.ProcessId}, this process");
        FileStream? file = null;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            if (!OperatingSystem.IsMacOS()) // macOS has no FileStream.Lock: not enforced there
            {
                try { file.Lock(LockedByte, 1); }
                catch (IOException) { throw new RunDirectoryBusyException(run.Path, Holder(file)); }
            }
            file.SetLength(0);
            file.Write(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId} {Environment.MachineName}\n")));
            file.Flush();
            return new RunDirectoryLock(file, path);
        }
        catch
        {
            file?.Dispose();
            lock (Gate) HeldHere.Remove(path);
            throw;
        }
    }

    /// <summary>
    /// Whether a process holds the lock of <paramref name="run"/> now, and which (<paramref name="holder"/>: "pid N, this
    /// process", "pid N", "pid N on HOST"): <see cref="Probe"/>, which writes nothing and never takes the lock; false
    /// when there is no lock file (nothing ever ran there).
    /// </summary>
    public static bool IsHeld(RunDirectory run, out string holder)
    {
        lock (Gate)
            if (HeldHere.Contains(run.PathOf(FileName)))
            {
                holder = $"pid {Environment.ProcessId}, this process";
                return true;
            }
        var probed = Probe(run);
        holder = probed?.ToString() ?? "pid unknown";
        return probed is not null;
    }

    /// <summary>When the holder of <paramref name="run"/>'s lock took it (the lock file's last write, by the file system's clock); null without a lock file.</summary>
    public static DateTime? TakenAtUtc(RunDirectory run)
    {
        var path = run.PathOf(FileName);
        return File.Exists(path) ? File.GetLastWriteTimeUtc(path) : null;
    }

    /// <summary>"pid N" (and "on HOST" when another machine holds it), from what the holder wrote; "pid unknown" before it wrote.</summary>
    private static string Holder(FileStream file) => Written(file).ToString();

    /// <summary>The pid and host the holder wrote into the file (either null when unreadable or not written yet).</summary>
    private static RunDirectoryHolder Written(FileStream file)
    {
        try
        {
            file.Position = 0;
            var buffer = new byte[256];
            var text = Encoding.UTF8.GetString(buffer, 0, file.Read(buffer)).Trim();
            var parts = text.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return new RunDirectoryHolder(null, null);
            return new RunDirectoryHolder(pid, parts.Length == 2 ? parts[1] : null);
        }
        catch (IOException) { return new RunDirectoryHolder(null, null); }
    }

    /// <summary>
    /// Who holds the lock of <paramref name="run"/> now, or null when nobody does; the lock is only looked at, never
    /// taken, so the holder is not disturbed. On Linux the operating system is asked (<c>fcntl F_OFD_GETLK</c>, which
    /// sees the holder's record lock from another process; this process's own lock is known without asking); elsewhere, or where the file system does not
    /// answer, the pid and host written in the file are checked (a pid of this machine that is no longer alive holds
    /// nothing; one of another machine cannot be checked and counts as holding it).
    /// </summary>
    public static RunDirectoryHolder? Probe(RunDirectory run)
    {
        var path = run.PathOf(FileName);
        // Held here: answered without opening the file, since closing any descriptor of it would drop this process's lock.
        lock (Gate)
            if (HeldHere.Contains(path)) return new RunDirectoryHolder(Environment.ProcessId, Environment.MachineName, Verified: true);
        FileStream file;
        try { file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete); }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return null; }
        using (file)
        {
            var written = Written(file);
            if (OperatingSystem.IsLinux() && LockProbe.Query(file.SafeFileHandle, LockedByte) is { } held)
                return held.Locked ? written with { Pid = held.Pid ?? written.Pid, Verified = true } : null;
            if (written.Pid is not { } pid) return null;
            if (written.Host is { } host && host != Environment.MachineName) return written;
            return LockProbe.Alive(pid) ? written : null;
        }
    }

    /// <summary>fcntl(2) record-lock queries (Linux).</summary>
    private static class LockProbe
    {
        private const int OfdGetLk = 36;    // F_OFD_GETLK
        private const short WriteLock = 1;  // F_WRLCK
        private const short Unlocked = 2;   // F_UNLCK

        [StructLayout(LayoutKind.Sequential)]
        private struct Flock
        {
            public short Type;
            public short Whence;
            public long Start;
            public long Length;
            public int Pid;
        }

        [DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
        private static extern int Fcntl(int fd, int command, ref Flock flock);

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int Kill(int pid, int signal);

        /// <summary>Whether a write lock on <paramref name="offset"/> would conflict, with the holder's pid when the system names it; null when it cannot say.</summary>
        public static (bool Locked, int? Pid)? Query(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset)
        {
            var query = new Flock { Type = WriteLock, Whence = 0, Start = offset, Length = 1, Pid = 0 };
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                if (Fcntl((int)handle.DangerousGetHandle(), OfdGetLk, ref query) != 0)
                    return null; // EINVAL: no OFD locks (a kernel before 3.15); ENOLCK: no lock manager (some network mounts)
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
            return query.Type == Unlocked ? (false, null) : (true, query.Pid > 0 ? query.Pid : null); // -1: an open file description holds it
        }

        /// <summary>Whether a process with <paramref name="pid"/> exists on this machine (signal 0; EPERM: it exists, owned by another user).</summary>
        public static bool Alive(int pid) =>
            OperatingSystem.IsWindows() ? ProcessExists(pid) : Kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1;

        private static bool ProcessExists(int pid)
        {
            try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
            catch (ArgumentException) { return false; }
        }
    }

    /// <summary>Releases the lock (the file stays).</summary>
    public void Dispose()
    {
        _file.Dispose();
        lock (Gate) HeldHere.Remove(_path);
    }
}

/// <summary>
/// The process that holds a run directory's lock: its pid and host as it wrote them (null where unknown).
/// <paramref name="Verified"/>: the operating system confirmed the lock is held (else it was judged from the file).
/// </summary>
public sealed record RunDirectoryHolder(int? Pid, string? Host, bool Verified = false)
{
    /// <summary>"pid N", "pid N on HOST" (another machine), or "pid unknown".</summary>
    public override string ToString() =>
        Pid is not { } pid ? "pid unknown" : Host is { } host && host != Environment.MachineName ? $"pid {pid} on {host}" : $"pid {pid}";
}

/// <summary>Another process (or this one) runs the sweep of this run directory.</summary>
public sealed class RunDirectoryBusyException(string runDirectory, string holder)
    : IOException($"run directory {runDirectory} is in use by another sweeper run or resume ({holder}); wait for it to end or stop it first")
{
    public string RunDirectory { get; } = runDirectory;
}
