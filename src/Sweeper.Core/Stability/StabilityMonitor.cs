using System.Globalization;
using Sweeper.Core.Model;

namespace Sweeper.Core.Stability;

/// <summary>
/// Judges a training run step by step: flip rate and drift of every quantized layer's power-of-two
/// exponents, NaN/∞ and spikes of the loss and of the gradient norm. Pure (no clocks, no tensors): the
/// verdicts are a function of the observations fed in. One monitor per attempt: after a restart from a
/// checkpoint, start a new monitor (it warms up again). Not thread-safe.
/// </summary>
/// <remarks>
/// <para>Cost per step: O(layers × channels) with a few array reads and writes per channel, plus an
/// O(spike_window) block move for each running median; no allocation unless the verdict is unhealthy.
/// Memory: about 4 bytes × channels × (max(flip_window, drift_window) + 2) per layer.</para>
/// <para>When several tests fire at one step, the verdict is the first of: NaN/∞ loss, NaN/∞ gradient
/// norm (both judged during warm-up too), then after warm-up: loss spike, gradient-norm blow-up, exponent
/// out of bounds, steady drift, flip rate. Within a test the first layer (in observation order) and its
/// first channel win, except for the flip rate, where the channel with the most flips wins.</para>
/// <para>A channel whose exponent keeps moving the same way flips often but is reported as drifting (steady
/// drift wins over the flip rate); oscillation means back-and-forth.</para>
/// </remarks>
public sealed class StabilityMonitor
{
    private const int RecentCount = 16;

    private readonly StabilityOptions _options;
    private readonly int _maxFlips;
    private readonly int _history;
    private readonly RunningMedian _loss;
    private readonly RunningMedian _grad;
    private readonly List<LayerState> _layers = [];
    private readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);
    private int[] _resolved = new int[32];
    private long _stamp;
    private long _observations;
    private long _lastStep;
    private long _healthyRun;
    private long? _healthySince;

    public StabilityMonitor(StabilityOptions? options = null)
    {
        _options = options ?? new StabilityOptions();
        var errors = _options.Validate();
        if (errors.Count > 0)
            throw new ArgumentException("invalid stability options: " + string.Join("; ", errors), nameof(options));
        // Flips allowed within a full window; the epsilon keeps 0.57 × 100 = 56.999… at 57.
        _maxFlips = (int)Math.Floor(_options.MaxFlipRate * _options.FlipWindow + 1e-9);
        _history = Math.Max(_options.FlipWindow, _options.DriftWindow) + 2;
        _loss = new RunningMedian(_options.SpikeWindow);
        _grad = new RunningMedian(_options.SpikeWindow);
    }

    public StabilityOptions Options => _options;

    /// <summary>Observations fed so far.</summary>
    public long Observations => _observations;

    /// <summary>True while the next observation falls within the warm-up (only NaN/∞ are judged).</summary>
    public bool IsWarmingUp => _observations < _options.WarmupSteps;

    /// <summary>The latest verdict, if any step was observed.</summary>
    public StabilityVerdict? Last { get; private set; }

    /// <summary>The quantized layers seen so far, in the order they were first seen.</summary>
    public IReadOnlyList<string> Layers => _layers.ConvertAll(l => l.Name);

    /// <summary>
    /// The first step of the current unbroken run of judged healthy verdicts (after warm-up); null when the
    /// latest verdict was unhealthy or the monitor is still warming up.
    /// </summary>
    public long? HealthySince => _healthySince;

    /// <summary>Length, in observations, of the current unbroken run of judged healthy verdicts.</summary>
    public long HealthySteps => _healthyRun;

    /// <summary>
    /// True when each of the last <paramref name="steps"/> observations was judged healthy after warm-up: the
    /// test for marking a checkpoint taken now as healthy. Warm-up steps never count (they were not fully judged).
    /// </summary>
    public bool IsHealthyOver(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        return _healthyRun >= steps;
    }

    /// <summary>True when every observation from step <paramref name="step"/> on was judged healthy after warm-up.</summary>
    public bool IsHealthySince(long step) => _healthySince is { } since && since <= step && step <= _lastStep;

    /// <summary>Judges one training step and updates the windows.</summary>
    /// <exception cref="ArgumentException">
    /// The step is not after the previous one, the gradient norm is negative, or the layers do not match those
    /// seen before (a known layer missing, a layer twice, a channel count changed). Nothing is updated then.
    /// </exception>
    public StabilityVerdict Observe(StepObservation observation)
    {
        long step = observation.Step;
        if (_observations > 0 && step <= _lastStep)
            throw new ArgumentException($"step {step} is not after the previous step {_lastStep}; after a restart from a checkpoint use a new monitor", nameof(observation));
        double? gradNorm = observation.GradNorm;
        if (gradNorm is { } gn && gn < 0)
            throw new ArgumentException($"step {step}: gradient norm {StabilityOptions.F(gn)} is negative", nameof(observation));
        var layers = observation.Layers;
        int layerCount = layers?.Count ?? 0;
        if (layerCount > 0) Resolve(layers!, step);
        else if (_layers.Count > 0)
            throw new ArgumentException($"step {step}: no layers reported, but layer '{_layers[0].Name}' was reported before", nameof(observation));

        bool warmingUp = _observations < _options.WarmupSteps;
        _observations++;
        _lastStep = step;

        // Exponents: update every layer, remember the first candidate of each test.
        int boundsLayer = -1, driftLayer = -1, flipLayer = -1, flipCount = _maxFlips;
        for (int i = 0; i < layerCount; i++)
        {
            var state = _layers[_resolved[i]];
            state.Update(layers![i].Exponents, _options);
            if (boundsLayer < 0 && state.OutOfBoundsChannel >= 0) boundsLayer = _resolved[i];
            if (driftLayer < 0 && state.DriftChannel >= 0) driftLayer = _resolved[i];
            if (state.FlipJudged && state.MaxFlips > flipCount) { flipLayer = _resolved[i]; flipCount = state.MaxFlips; }
        }

        // Loss and gradient norm: compare with the medians of the previous values, then add.
        double loss = observation.Loss;
        double lossMedian = _loss.IsFull ? _loss.Median : double.NaN;
        if (double.IsFinite(loss)) _loss.Add(loss);
        double gradMedian = double.NaN;
        if (gradNorm is { } g)
        {
            gradMedian = _grad.IsFull ? _grad.Median : double.NaN;
            if (double.IsFinite(g)) _grad.Add(g);
        }

        StabilityVerdict verdict;
        if (!double.IsFinite(loss))
            verdict = Diverged(StabilitySignal.NonFiniteLoss, step, 0, loss, double.NaN, double.NaN,
                $"loss is {Show(loss)} at step {step}");
        else if (gradNorm is { } g1 && !double.IsFinite(g1))
            verdict = Diverged(StabilitySignal.NonFiniteGradNorm, step, 0, g1, double.NaN, double.NaN,
                $"gradient norm is {Show(g1)} at step {step}");
        else if (warmingUp)
            verdict = StabilityVerdict.Healthy(step, warmingUp: true);
        else if (lossMedian > 0 && loss > _options.LossSpikeFactor * lossMedian)
            verdict = Diverged(StabilitySignal.LossSpike, step, _options.SpikeWindow, loss, _options.LossSpikeFactor * lossMedian, lossMedian,
                $"loss {Show(loss)} at step {step} is above {Show(_options.LossSpikeFactor)} × its running median {Show(lossMedian)} over the last {_options.SpikeWindow} steps (limit {Show(_options.LossSpikeFactor * lossMedian)})");
        else if (gradNorm is { } g2 && gradMedian > 0 && g2 > _options.GradNormFactor * gradMedian)
            verdict = Diverged(StabilitySignal.GradNormBlowUp, step, _options.SpikeWindow, g2, _options.GradNormFactor * gradMedian, gradMedian,
                $"gradient norm {Show(g2)} at step {step} is above {Show(_options.GradNormFactor)} × its running median {Show(gradMedian)} over the last {_options.SpikeWindow} steps (limit {Show(_options.GradNormFactor * gradMedian)})");
        else if (boundsLayer >= 0)
            verdict = OutOfBounds(_layers[boundsLayer], step);
        else if (driftLayer >= 0)
            verdict = SteadyDrift(_layers[driftLayer], step);
        else if (flipLayer >= 0)
            verdict = Oscillation(_layers[flipLayer], step);
        else
            verdict = StabilityVerdict.Healthy(step);

        if (!verdict.IsHealthy)
        {
            _healthyRun = 0;
            _healthySince = null;
        }
        else if (!warmingUp)
        {
            if (_healthyRun == 0) _healthySince = step;
            _healthyRun++;
        }
        Last = verdict;
        return verdict;
    }

    private StabilityVerdict OutOfBounds(LayerState layer, long step)
    {
        int c = layer.OutOfBoundsChannel;
        int e = layer.Current(c);
        bool low = e < _options.MinExponent;
        int bound = low ? _options.MinExponent : _options.MaxExponent;
        string reason = low
            ? $"layer '{layer.Name}' channel {c}: exponent {e} at step {step} is below min_exponent {bound} (the scale collapsed towards zero)"
            : $"layer '{layer.Name}' channel {c}: exponent {e} at step {step} is above max_exponent {bound} (the scale ran away towards infinity)";
        return StabilityVerdict.Unhealthy(StabilityKind.Drifting, new StabilityEvidence(
            StabilitySignal.ExponentOutOfBounds, step, layer.Name, c, 0, e, bound, double.NaN, layer.Recent(c, RecentCount), reason));
    }

    private StabilityVerdict SteadyDrift(LayerState layer, long step)
    {
        int c = layer.DriftChannel;
        int window = _options.DriftWindow;
        int now = layer.Current(c), then = layer.Ago(c, window);
        string way = now < then ? "down (the scale shrinks towards zero)" : "up (the scale grows towards infinity)";
        string reason = $"layer '{layer.Name}' channel {c}: exponent moved {then} → {now} over the last {window} steps without turning back, {way}; drift_min_change is {_options.DriftMinChange}";
        return StabilityVerdict.Unhealthy(StabilityKind.Drifting, new StabilityEvidence(
            StabilitySignal.ExponentSteadyDrift, step, layer.Name, c, window, now, _options.DriftMinChange, then, layer.Recent(c, RecentCount), reason));
    }

    private StabilityVerdict Oscillation(LayerState layer, long step)
    {
        int c = layer.MaxFlipsChannel;
        int window = _options.FlipWindow;
        double rate = (double)layer.MaxFlips / window;
        var recent = layer.Recent(c, RecentCount);
        string reason = $"layer '{layer.Name}' channel {c}: exponent changed {layer.MaxFlips} times in the last {window} steps (rate {Show(rate)} > max_flip_rate {Show(_options.MaxFlipRate)}); latest: {string.Join(' ', recent)}";
        return StabilityVerdict.Unhealthy(StabilityKind.Oscillating, new StabilityEvidence(
            StabilitySignal.ExponentFlipRate, step, layer.Name, c, window, rate, _options.MaxFlipRate, double.NaN, recent, reason));
    }

    private static StabilityVerdict Diverged(StabilitySignal signal, long step, int window, double value, double threshold, double baseline, string reason) =>
        StabilityVerdict.Unhealthy(StabilityKind.Diverged, new StabilityEvidence(signal, step, null, null, window, value, threshold, baseline, [], reason));

    private static string Show(double x) => x switch
    {
        double.PositiveInfinity => "+∞",
        double.NegativeInfinity => "−∞",
        _ when double.IsNaN(x) => "NaN",
        _ => x.ToString("G4", CultureInfo.InvariantCulture),
    };

    /// <summary>Maps each reported layer to its state (into <see cref="_resolved"/>), checking everything before changing anything.</summary>
    private void Resolve(IReadOnlyList<LayerExponents> layers, long step)
    {
        int n = layers.Count;
        if (_resolved.Length < n) _resolved = new int[Math.Max(n, 2 * _resolved.Length)];
        long stamp = ++_stamp;
        int known = 0, fresh = 0;
        for (int i = 0; i < n; i++)
        {
            var layer = layers[i];
            if (layer.Name is null) throw new ArgumentException($"step {step}: layer {i} has no name", "observation");
            if (layer.Exponents is null) throw new ArgumentException($"step {step}: layer '{layer.Name}' has no exponent array", "observation");
            int index = i < _layers.Count && string.Equals(_layers[i].Name, layer.Name, StringComparison.Ordinal) ? i
                : _byName.TryGetValue(layer.Name, out int j) ? j : -1;
            if (index >= 0)
            {
                var state = _layers[index];
                if (state.Stamp == stamp) throw new ArgumentException($"step {step}: layer '{layer.Name}' is reported twice", "observation");
                if (state.Channels != layer.Exponents.Length)
                    throw new ArgumentException($"step {step}: layer '{layer.Name}' has {layer.Exponents.Length} exponents, but had {state.Channels} before", "observation");
                state.Stamp = stamp;
                known++;
            }
            else fresh++;
            _resolved[i] = index;
        }
        if (known != _layers.Count)
        {
            // No lambda here: a captured local would allocate a closure on every call.
            string missing = "";
            foreach (var l in _layers)
                if (l.Stamp != stamp) { missing = l.Name; break; }
            throw new ArgumentException($"step {step}: layer '{missing}' was reported before but is missing now", "observation");
        }
        if (fresh == 0) return;
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
            if (_resolved[i] < 0 && !names.Add(layers[i].Name))
                throw new ArgumentException($"step {step}: layer '{layers[i].Name}' is reported twice", "observation");
        for (int i = 0; i < n; i++)
        {
            if (_resolved[i] >= 0) continue;
            var state = new LayerState(layers[i].Name, layers[i].Exponents.Length, _history) { Stamp = stamp };
            _resolved[i] = _layers.Count;
            _byName.Add(state.Name, _layers.Count);
            _layers.Add(state);
        }
    }

    /// <summary>One layer's exponent history and per-channel counters.</summary>
    private sealed class LayerState
    {
        private readonly int[] _ring;     // step-major: slot × channels + channel
        private readonly int _history;
        private readonly int[] _flips;    // changes within the flip window, per channel
        private readonly sbyte[] _dir;    // direction of the latest change: −1, 0 (none yet), +1
        private readonly long[] _lastChange; // index of the latest change (the transition index − 1 → index)
        private readonly long[] _runStart;   // every change after this index goes in direction _dir
        private long _count;

        public LayerState(string name, int channels, int history)
        {
            Name = name;
            Channels = channels;
            _history = history;
            _ring = new int[history * channels];
            _flips = new int[channels];
            _dir = new sbyte[channels];
            _lastChange = new long[channels];
            _runStart = new long[channels];
        }

        public string Name { get; }
        public int Channels { get; }
        public long Stamp { get; set; }

        // Results of the latest Update.
        public int OutOfBoundsChannel { get; private set; } = -1;
        public int DriftChannel { get; private set; } = -1;
        public bool FlipJudged { get; private set; }
        public int MaxFlips { get; private set; }
        public int MaxFlipsChannel { get; private set; } = -1;

        public void Update(int[] exponents, StabilityOptions o)
        {
            long t = _count++;
            int channels = Channels;
            int cur = Slot(t);
            int min = o.MinExponent, max = o.MaxExponent;
            int outOfBounds = -1, drift = -1, most = 0, mostAt = -1;
            if (t == 0)
            {
                for (int c = 0; c < channels; c++)
                {
                    int v = exponents[c];
                    _ring[cur + c] = v;
                    if (outOfBounds < 0 && (v < min || v > max)) outOfBounds = c;
                }
            }
            else
            {
                int prev = Slot(t - 1);
                int flipWindow = o.FlipWindow, driftWindow = o.DriftWindow, k = o.DriftMinChange;
                // The transition (t − F − 1 → t − F) leaves the flip window now.
                bool leaves = t - flipWindow >= 1;
                int leaveTo = leaves ? Slot(t - flipWindow) : 0, leaveFrom = leaves ? Slot(t - flipWindow - 1) : 0;
                bool driftJudged = t >= driftWindow;
                int start = driftJudged ? Slot(t - driftWindow) : 0;
                long runLimit = t - driftWindow;
                for (int c = 0; c < channels; c++)
                {
                    int v = exponents[c];
                    int p = _ring[prev + c];
                    int flips = _flips[c];
                    // Old rows are read only when they can matter: a channel without flips in the window has none to drop.
                    if (leaves && flips > 0 && _ring[leaveTo + c] != _ring[leaveFrom + c]) flips--;
                    if (v != p)
                    {
                        flips++;
                        sbyte d = v > p ? (sbyte)1 : (sbyte)-1;
                        if (_dir[c] != d)
                        {
                            if (_dir[c] != 0) _runStart[c] = _lastChange[c];
                            _dir[c] = d;
                        }
                        _lastChange[c] = t;
                    }
                    _flips[c] = flips;
                    // Drift needs a change inside the window (the latest one after its start) and none the other way.
                    if (drift < 0 && driftJudged && _lastChange[c] > runLimit && _runStart[c] <= runLimit)
                    {
                        int net = v - _ring[start + c];
                        if (net >= k || net <= -k) drift = c;
                    }
                    _ring[cur + c] = v;
                    if (outOfBounds < 0 && (v < min || v > max)) outOfBounds = c;
                    if (flips > most) { most = flips; mostAt = c; }
                }
            }
            OutOfBoundsChannel = outOfBounds;
            DriftChannel = drift;
            FlipJudged = t >= o.FlipWindow;
            MaxFlips = most;
            MaxFlipsChannel = mostAt;
        }

        /// <summary>The channel's exponent at the latest update.</summary>
        public int Current(int channel) => _ring[Slot(_count - 1) + channel];

        /// <summary>The channel's exponent <paramref name="steps"/> updates before the latest (within the history).</summary>
        public int Ago(int channel, int steps) => _ring[Slot(_count - 1 - steps) + channel];

        /// <summary>The channel's latest exponents, oldest first (at most <paramref name="max"/>).</summary>
        public int[] Recent(int channel, int max)
        {
            int n = (int)Math.Min(Math.Min(max, _history), _count);
            var values = new int[n];
            for (int i = 0; i < n; i++) values[i] = _ring[Slot(_count - n + i) + channel];
            return values;
        }

        private int Slot(long t) => (int)(t % _history) * Channels;
    }
}
