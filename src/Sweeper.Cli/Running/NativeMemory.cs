using System.Runtime.InteropServices;

namespace Sweeper.Cli.Running;

/// <summary>
/// Tunes glibc's malloc for a process that trains: at most <see cref="ArenaMax"/> malloc arenas instead of glibc's
/// 8 per core. Called first thing in <c>Main</c>, before libtorch allocates anything.
/// </summary>
/// <remarks>
/// libtorch allocates every tensor with malloc on the thread that runs the op. glibc gives threads arenas of their
/// own (up to 8 per core) and keeps what a thread freed in its arena for reuse by that arena only, so each arena a
/// trial ever touched holds up to that trial's high-water mark: 16 arenas of nearly 64 MB each (1.2 GB resident) after
/// 20 small trials on 2 cores, measured with <c>sweeper bench memory</c> and <c>/proc/self/smaps</c>. Two arenas keep
/// two concurrent trials from contending for one lock. A <c>MALLOC_ARENA_MAX</c> the user set wins (glibc reads it at
/// start); on other C libraries (musl) and systems nothing is changed.
/// </remarks>
public static class NativeMemory
{
    /// <summary>The arena limit set when the user gave none.</summary>
    public const int ArenaMax = 2;

    /// <summary>The environment variable through which a user chooses the limit instead (read by glibc itself).</summary>
    public const string ArenaMaxVariable = "MALLOC_ARENA_MAX";

    private const int M_ARENA_MAX = -8;

    /// <summary>Limits the arenas (once; later calls do nothing). True when the limit was set by this call.</summary>
    public static bool Configure()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(ArenaMaxVariable) is not null) return false;
        try
        {
            return mallopt(M_ARENA_MAX, ArenaMax) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
