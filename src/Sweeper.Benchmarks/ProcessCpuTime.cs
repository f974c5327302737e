using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Sweeper.Benchmarks;

/// <summary>
/// The CPU time this process has used (every thread, user and system). On Linux from <c>getrusage(RUSAGE_SELF)</c>,
/// which the kernel derives from its nanosecond scheduler accounting and reports in microseconds; .NET's
/// <see cref="Process.TotalProcessorTime"/> reads <c>/proc/self/stat</c>, counted in clock ticks of 10 ms, too coarse for
/// one training step of a few hundred milliseconds. Elsewhere (or if the call fails) it is that property.
/// </summary>
public static class ProcessCpuTime
{
    private const int RusageSelf = 0;

    /// <summary>The process's CPU time so far.</summary>
    public static TimeSpan Now()
    {
        if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64)
        {
            try
            {
                if (getrusage(RusageSelf, out var usage) == 0)
                    return TimeSpan.FromMicroseconds(usage.UserSeconds * 1_000_000.0 + usage.UserMicroseconds + usage.SystemSeconds * 1_000_000.0 + usage.SystemMicroseconds);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // fall through to the portable (coarser) figure
            }
        }

        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary><c>struct rusage</c> of 64-bit Linux (144 bytes): two <c>timeval</c>s, then fourteen <c>long</c>s this does not read.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 144)]
    private struct Rusage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
    }

    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern int getrusage(int who, out Rusage usage);
}
