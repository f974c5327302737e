using System.Runtime.InteropServices;

namespace Sweeper.Cluster.Journal;

/// <summary>
/// Flushes a folder's entries (a file renamed into it, a folder created in it) to disk. .NET has no API for it: a
/// directory cannot be opened as a <see cref="FileStream"/> or a <see cref="Microsoft.Win32.SafeHandles.SafeFileHandle"/>
/// (it is refused as "access denied"), so on Linux and macOS the folder is opened with libc's <c>open</c> and synced
/// with <c>fsync</c>. On Windows the rename is already durable once <c>MoveFileEx</c> returns with the file flushed; nothing
/// is done there.
/// </summary>
internal static class DirectorySync
{
    private const int ReadOnly = 0; // O_RDONLY: enough to fsync a directory on Linux and macOS

    /// <summary>
    /// fsync(2) on <paramref name="folder"/>. A file system that cannot sync a directory (EINVAL, ENOTSUP, EACCES...) is
    /// accepted as it is; an error that means the entries may not be on disk (EIO, ENOSPC, EDQUOT) is an
    /// <see cref="IOException"/> naming the folder.
    /// </summary>
    public static void Flush(string folder)
    {
        if (TryFlush(folder) is ({ } errno, var call)) ThrowIfDataLoss(folder, errno, call);
    }

    /// <summary>open(2) and fsync(2) on <paramref name="folder"/>: null on success (and on Windows), else the errno and the call that failed.</summary>
    internal static (int Errno, string Call)? TryFlush(string folder)
    {
        if (OperatingSystem.IsWindows()) return null;
        int fd = Open(folder, ReadOnly);
        if (fd < 0) return (Marshal.GetLastPInvokeError(), "open");
        try
        {
            return FSync(fd) == 0 ? null : (Marshal.GetLastPInvokeError(), "fsync");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static void ThrowIfDataLoss(string folder, int errno, string call)
    {
        const int EIO = 5, ENOSPC = 28, EDQUOT_LINUX = 122, EDQUOT_MAC = 69;
        if (errno is EIO or ENOSPC || (OperatingSystem.IsLinux() && errno == EDQUOT_LINUX) || (OperatingSystem.IsMacOS() && errno == EDQUOT_MAC))
            throw new IOException($"cannot flush the folder '{folder}' to disk ({call} failed with errno {errno})");
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int FSync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);
}
