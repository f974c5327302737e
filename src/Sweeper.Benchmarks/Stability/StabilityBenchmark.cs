using System.Diagnostics;
using System.Globalization;
using Sweeper.Core.Stability;

namespace Sweeper.Benchmarks.Stability;

/// <summary>The outcome of <see cref="StabilityBenchmark.Run"/>.</summary>
/// <param name="MicrosecondsPerStep">Wall time of <see cref="StabilityMonitor.Observe"/> per step, in µs.</param>
/// <param name="AllocatedBytes">Bytes allocated on the calling thread during the timed steps (0 when the hot path does not allocate).</param>
/// <param name="UnhealthySteps">Steps judged unhealthy (0 for the benchmark's healthy stream with default options).</param>
public sealed record StabilityBenchmarkResult(int Layers, int Channels, int Steps, double MicrosecondsPerStep, long AllocatedBytes, int UnhealthySteps)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Layers} layers × {Channels} channels, {Steps} steps: {MicrosecondsPerStep:F2} µs/step, {AllocatedBytes} bytes allocated, {UnhealthySteps} unhealthy steps");
}

/// <summary>Measures the cost of <see cref="StabilityMonitor.Observe"/> on a synthetic, healthy training stream.</summary>
public static class StabilityBenchmark
{
    private const int Frames = 256;

    /// <summary>
    /// Feeds <paramref name="steps"/> observations of <paramref name="layers"/> layers × <paramref name="channels"/>
    /// channels to a fresh monitor and times them. The stream is fixed by <paramref name="seed"/>: exponents sit
    /// between −8 and −3 and each channel toggles to its neighbour with probability 1% per step; the loss is about 2
    /// and the gradient norm about 1. The stream is pre-computed (256 frames, cycled) so only the monitor is timed,
    /// after an untimed run of the same length to let the JIT settle.
    /// </summary>
    public static StabilityBenchmarkResult Run(int layers = 30, int channels = 64, int steps = 10_000, StabilityOptions? options = null, ulong seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        ArgumentOutOfRangeException.ThrowIfNegative(channels);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var frames = MakeFrames(layers, channels, seed);

        Feed(new StabilityMonitor(options), frames, Math.Min(steps, 2_000)); // JIT warm-up, untimed

        var monitor = new StabilityMonitor(options);
        monitor.Observe(frames[0].At(0)); // registers the layers (allocates once)
        int unhealthy = 0;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        long started = Stopwatch.GetTimestamp();
        for (int s = 1; s <= steps; s++)
            if (!monitor.Observe(frames[s % Frames].At(s)).IsHealthy) unhealthy++;
        var elapsed = Stopwatch.GetElapsedTime(started);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        return new StabilityBenchmarkResult(layers, channels, steps, elapsed.TotalMicroseconds / steps, allocated, unhealthy);
    }

    /// <summary><see cref="Run"/>'s µs per step.</summary>
    public static double MicrosecondsPerStep(int layers = 30, int channels = 64, int steps = 10_000) =>
        Run(layers, channels, steps).MicrosecondsPerStep;

    private static void Feed(StabilityMonitor monitor, Frame[] frames, int steps)
    {
        for (int s = 0; s <= steps; s++) monitor.Observe(frames[s % Frames].At(s));
    }

    private sealed record Frame(double Loss, double GradNorm, LayerExponents[] Layers)
    {
        public StepObservation At(long step) => new(step, Loss, GradNorm, Layers);
    }

    private static Frame[] MakeFrames(int layers, int channels, ulong seed)
    {
        ulong state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;
        double Next()
        {
            // xorshift64*: enough for a synthetic stream.
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
            return ((state * 0x2545F4914F6CDD1DUL) >> 11) * (1.0 / (1UL << 53));
        }
        var names = new string[layers];
        for (int l = 0; l < layers; l++) names[l] = string.Create(CultureInfo.InvariantCulture, $"features.{l}.conv");
        var toggled = new bool[layers, channels];
        var frames = new Frame[Frames];
        for (int f = 0; f < Frames; f++)
        {
            var frameLayers = new LayerExponents[layers];
            for (int l = 0; l < layers; l++)
            {
                var e = new int[channels];
                for (int c = 0; c < channels; c++)
                {
                    if (Next() < 0.01) toggled[l, c] = !toggled[l, c];
                    e[c] = -3 - (l + c) % 5 - (toggled[l, c] ? 1 : 0);
                }
                frameLayers[l] = new LayerExponents(names[l], e);
            }
            frames[f] = new Frame(2.0 + 0.2 * Next(), 1.0 + 0.5 * Next(), frameLayers);
        }
        return frames;
    }
}
