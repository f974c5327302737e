namespace Sweeper.Core.Trials;

/// <summary>
/// How many intra-op threads each trial of a worker gets (<c>--threads-per-trial auto|N</c>): <c>auto</c> divides the
/// machine's cores among the worker's slots, so that a worker with fewer slots than cores leaves none idle, and a worker
/// with as many slots as cores (or more) gives each trial one thread.
/// </summary>
public static class IntraOpThreads
{
    /// <summary>The largest count <c>--threads-per-trial</c> accepts.</summary>
    public const int Max = 256;

    /// <summary><c>auto</c>: ⌊cores / slots⌋, at least 1.</summary>
    public static int Auto(int slots, int cores)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cores, 1);
        return Math.Max(1, cores / slots);
    }

    /// <summary>Parses <c>auto</c> (null) or a count 1..<see cref="Max"/>; false with a message otherwise.</summary>
    public static bool TryParse(string text, out int? threads, out string? error)
    {
        threads = null;
        error = null;
        if (string.Equals(text?.Trim(), "auto", StringComparison.OrdinalIgnoreCase)) return true;
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= Max)
        {
            threads = n;
            return true;
        }
        error = $"--threads-per-trial must be 'auto' or a whole number from 1 to {Max} (got '{text}')";
        return false;
    }

    /// <summary>The trainables of <paramref name="inner"/>, each created with <paramref name="threads"/> intra-op threads in its context.</summary>
    public static ITrainableFactory For(ITrainableFactory inner, int threads) => new Factory(inner, threads);

    private sealed class Factory(ITrainableFactory inner, int threads) : ITrainableFactory
    {
        /// <summary>Without an assignment's context (no sweep): the inner factory's trainable as it is.</summary>
        public ITrainable Create(TrialConfig config) => inner.Create(config);

        public ITrainable Create(TrialConfig config, TrialContext context) => inner.Create(config, context with { IntraOpThreads = threads });
    }
}
