using System.Runtime.InteropServices;
using Sweeper.Cluster.Actors;

namespace Sweeper.Cli.Running;

/// <summary>
/// Tunes glibc's malloc for a process that trains: at most <see cref="ArenaMax"/> malloc arenas instead of glibc's
/// 8 per core, fixed mmap and trim thresholds (a step's tensors reused from the heap, not mapped again each time), and
/// a trim of the arenas after each trial that trained (after shorter ones at most once a second: <see cref="ShouldTrim"/>).
/// Called first thing in <c>Main</c>, before libtorch allocates anything.
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
    private const int M_TRIM_THRESHOLD = -1;
    private const int M_MMAP_THRESHOLD = -3;

    /// <summary>
    /// Blocks from this size on come from <c>mmap</c> (glibc's largest allowed value, 32 MiB): smaller ones, every
    /// activation and gradient of a trial's step, are reused from the heap instead of being mapped and zero-filled again.
    /// </summary>
    public const int MmapThreshold = 32 << 20;

    /// <summary>The free memory at the heap's top that glibc keeps instead of returning it at every free (1 GiB).</summary>
    public const int TrimThreshold = 1 << 30;

    /// <summary>The variables through which a user chooses those two instead (read by glibc itself).</summary>
    public const string MmapThresholdVariable = "MALLOC_MMAP_THRESHOLD_", TrimThresholdVariable = "MALLOC_TRIM_THRESHOLD_";

    /// <summary>
    /// Limits the arenas (unless the user set <see cref="ArenaMaxVariable"/>), and has every trial thread give the
    /// memory freed by its trial back to the system when the trial ends (<see cref="TrimFreeMemory"/>). True when
    /// glibc's malloc is there to be tuned.
    /// </summary>
    public static bool Configure()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            // glibc's default thresholds adapt: each trim hands the top of the heap back and each large block is
            // mapped afresh, so a training step page-faults and zero-fills its activations again and again. Measured
            // (one MobileNetV1 w0.25 trial, 10k images, batch 64): 150 ms per step in the first epoch with the
            // defaults, 52-67 ms with these; the memory a trial freed still goes back at its end (TrimFreeMemory).
            foreach (var (_, parameter, value) in ChosenHere()) mallopt(parameter, value);
            malloc_trim(0); // binds both entry points now: a C library without them (musl) fails here, not after a trial
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc
        }
        Cluster.Actors.TrialThreads.Shared.AfterEach = TrimAfterTrial;
        Configured = true;
        return true;
    }

    /// <summary>
    /// The malloc settings this process runs with as environment variables for a child process (glibc reads them at
    /// start): those the program chose; a variable the user set is inherited by the child anyway. Empty when this is
    /// not a glibc process.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ForChildren() =>
        Configured ? ChosenHere().ToDictionary(s => s.Variable, s => s.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)) : new Dictionary<string, string>();

    /// <summary>The settings (arenas, mmap threshold, trim threshold) the user did not choose through their variable.</summary>
    private static IEnumerable<(string Variable, int Parameter, int Value)> ChosenHere() =>
        new[] { (ArenaMaxVariable, M_ARENA_MAX, ArenaMax), (MmapThresholdVariable, M_MMAP_THRESHOLD, MmapThreshold), (TrimThresholdVariable, M_TRIM_THRESHOLD, TrimThreshold) }
            .Where(s => Environment.GetEnvironmentVariable(s.Item1) is null);

    /// <summary>Whether <see cref="Configure"/> tuned glibc's malloc in this process.</summary>
    public static bool Configured { get; private set; }

    /// <summary>
    /// Returns the free memory of every malloc arena to the system (<c>malloc_trim(0)</c>): run on a trial thread when
    /// its trial has ended, so that what the trial freed does not stay resident in an arena until the next trial.
    /// With trials overlapping by a moment (the next one starts while the last one's thread is still disposing), two
    /// trial threads, and so both arenas, serve trials; without the trim each arena kept its own high-water mark.
    /// </summary>
    public static void TrimFreeMemory() => malloc_trim(0);

    /// <summary>A trial that ran at least this long (one that trained) is followed by a trim, however recent the last one.</summary>
    public static readonly TimeSpan TrimAlwaysAfter = TimeSpan.FromMilliseconds(100);

    /// <summary>After shorter trials, the process trims at most once per this interval.</summary>
    public static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(1);

    private static long _lastTrim = long.MinValue;

    /// <summary>
    /// Runs on a trial thread when its trial has ended (<see cref="TrialThreads.AfterEach"/>): <see cref="TrimFreeMemory"/>
    /// when <see cref="ShouldTrim"/> says so. A trim walks and locks every arena; after each of thousands of trials of a
    /// few milliseconds (command trials, zero-length synthetic ones) it cost a fifth of a 10,000-trial run
    /// (<c>sweeper bench orchestration</c>: 1.44–1.86 s with a trim after every trial, 1.14–1.52 s without, alternating).
    /// </summary>
    public static void TrimAfterTrial(TimeSpan ran)
    {
        if (ShouldTrim(ran, System.Diagnostics.Stopwatch.GetTimestamp(), ref _lastTrim)) TrimFreeMemory();
    }

    /// <summary>
    /// Whether to trim after a trial that ran <paramref name="ran"/>, at Stopwatch timestamp <paramref name="now"/>, given
    /// the process's last trim at <paramref name="lastTrim"/> (<see cref="long.MinValue"/>: none yet); a yes records
    /// <paramref name="now"/> as the last trim. Always after a trial of at least <see cref="TrimAlwaysAfter"/>; after a
    /// shorter one only if no trim happened in the last <see cref="TrimInterval"/>, and then on one thread only.
    /// </summary>
    public static bool ShouldTrim(TimeSpan ran, long now, ref long lastTrim)
    {
        while (true)
        {
            long last = Volatile.Read(ref lastTrim);
            if (ran < TrimAlwaysAfter && last != long.MinValue && now - last < (long)(TrimInterval.TotalSeconds * System.Diagnostics.Stopwatch.Frequency))
                return false;
            if (Interlocked.CompareExchange(ref lastTrim, now, last) == last) return true;
            if (ran < TrimAlwaysAfter) return false; // another thread trims now
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
