using Sweeper.Core.Stability;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Stability;

public class StabilityMonitorTests
{
    /// <summary>No warm-up; windows long enough that only the test under study can fire.</summary>
    private static StabilityOptions Quiet(int warmup = 0, int flipWindow = 1000, double maxFlipRate = 0.5, int driftWindow = 1000,
        int driftMinChange = 2, int spikeWindow = 4, double lossFactor = 10, double gradFactor = 100) => new()
    {
        WarmupSteps = warmup,
        FlipWindow = flipWindow,
        MaxFlipRate = maxFlipRate,
        DriftWindow = driftWindow,
        DriftMinChange = driftMinChange,
        SpikeWindow = spikeWindow,
        LossSpikeFactor = lossFactor,
        GradNormFactor = gradFactor,
    };

    private static string Letters(StabilityOptions options, string? exponents = null, string? losses = null, string? grads = null) =>
        MonitorScript.Run(new StabilityMonitor(options), exponents, losses, grads).Letters;

    // ---- Diverged: non-finite loss and gradient norm (judged during warm-up too) ----

    [Theory]
    [InlineData("nan", 0, "X")]
    [InlineData("inf", 0, "X")]
    [InlineData("-inf", 0, "X")]
    [InlineData("nan", 5, "X")]
    [InlineData("-inf", 5, "X")]
    [InlineData("1 2 nan 1", 0, "HHXH")]
    [InlineData("1 2 inf 1", 10, "WWXW")]
    [InlineData("1e308 1", 0, "HH")]
    public void Observe_NonFiniteLoss_DivergedEvenInWarmup(string losses, int warmup, string expected) =>
        Assert.Equal(expected, Letters(Quiet(warmup), losses: losses));

    [Theory]
    [InlineData("nan", 0, "X")]
    [InlineData("inf", 0, "X")]
    [InlineData("nan", 5, "X")]
    [InlineData("- 1 inf -", 5, "WWXW")]
    [InlineData("- - -", 0, "HHH")]
    [InlineData("0 0 0", 0, "HHH")]
    public void Observe_NonFiniteGradNorm_DivergedEvenInWarmup(string grads, int warmup, string expected) =>
        Assert.Equal(expected, Letters(Quiet(warmup), grads: grads));

    [Theory]
    [InlineData("nan", StabilitySignal.NonFiniteLoss, "loss is NaN at step 0")]
    [InlineData("inf", StabilitySignal.NonFiniteLoss, "loss is +∞ at step 0")]
    [InlineData("-inf", StabilitySignal.NonFiniteLoss, "loss is −∞ at step 0")]
    public void Observe_NonFiniteLoss_EvidenceNamesTheValue(string loss, StabilitySignal signal, string reason)
    {
        var v = MonitorScript.Run(new StabilityMonitor(Quiet()), losses: loss).Verdicts[0];
        Assert.Equal(StabilityKind.Diverged, v.Kind);
        Assert.Equal(signal, v.Evidence!.Signal);
        Assert.Equal(reason, v.Reason);
        Assert.Null(v.Evidence.Layer);
        Assert.True(double.IsNaN(v.Evidence.Threshold));
    }

    [Fact]
    public void Observe_NaNLossAndNaNGradNorm_LossWins()
    {
        var v = new StabilityMonitor(Quiet()).Observe(new StepObservation(3, double.NaN, double.NaN));
        Assert.Equal(StabilitySignal.NonFiniteLoss, v.Evidence!.Signal);
        Assert.Equal(3, v.Step);
    }

    // ---- Diverged: loss spike over k × running median (window 4, k = 10) ----

    [Theory]
    [InlineData("1 1 1 1 10", "HHHHH")]            // exactly k × median: not above
    [InlineData("1 1 1 1 10.01", "HHHHX")]
    [InlineData("1 2 3 4 25", "HHHHH")]            // median 2.5
    [InlineData("1 2 3 4 25.1", "HHHHX")]
    [InlineData("1 1 1 100", "HHHH")]              // window not full: not judged
    [InlineData("1 1 1 1 100 1", "HHHHXH")]        // the spike enters the window, the median stays 1
    [InlineData("1 1 1 nan 100", "HHHXH")]         // NaN does not enter the window: 3 values, not judged
    [InlineData("0 0 0 0 5", "HHHHH")]             // median 0: a ratio means nothing
    [InlineData("-1 -1 -1 -1 5", "HHHHH")]         // negative median: not judged
    [InlineData("8 4 2 1 11", "HHHHH", 4, 5)]      // median of {8, 4, 2, 1} is 3: limit 15
    [InlineData("8 4 2 1 11", "HHHHX", 2, 5)]      // the window follows the falling loss: {2, 1} → 1.5, limit 7.5
    [InlineData("1 1 1 1 2.9", "HHHHH", 4, 3)]
    [InlineData("1 1 1 1 3.1", "HHHHX", 4, 3)]
    public void Observe_LossSpike_DivergedAboveFactorTimesMedian(string losses, string expected, int window = 4, double factor = 10) =>
        Assert.Equal(expected, Letters(Quiet(spikeWindow: window, lossFactor: factor), losses: losses));

    [Fact]
    public void Observe_LossSpikeDuringWarmup_NotJudged() =>
        Assert.Equal("WWWWWH", Letters(Quiet(warmup: 5), losses: "1 1 1 1 100 1"));

    [Fact]
    public void Observe_LossSpike_EvidenceHasMedianAndLimit()
    {
        var v = MonitorScript.Run(new StabilityMonitor(Quiet()), losses: "1 2 3 4 30").Verdicts[^1];
        var e = v.Evidence!;
        Assert.Equal((StabilitySignal.LossSpike, 4L, 4, 30.0, 25.0, 2.5), (e.Signal, e.Step, e.Window, e.Value, e.Threshold, e.Baseline));
        Assert.Equal("loss 30 at step 4 is above 10 × its running median 2.5 over the last 4 steps (limit 25)", v.Reason);
    }

    // ---- Diverged: gradient-norm blow-up over k × running median (window 4, k = 100) ----

    [Theory]
    [InlineData("1 1 1 1 100", "HHHHH")]
    [InlineData("1 1 1 1 100.5", "HHHHX")]
    [InlineData("- - - - 1000", "HHHHH")]          // no window yet
    [InlineData("1 1 - 1 1 1000", "HHHHHX")]       // steps without a norm do not count
    [InlineData("1 1 nan 1 1000", "HHXHH")]        // NaN does not enter the window: 3 values
    [InlineData("0 0 0 0 1000", "HHHHH")]          // median 0: not judged
    public void Observe_GradNormBlowUp_DivergedAboveFactorTimesMedian(string grads, string expected) =>
        Assert.Equal(expected, Letters(Quiet(), grads: grads));

    [Fact]
    public void Observe_GradNormBlowUp_Evidence()
    {
        var v = MonitorScript.Run(new StabilityMonitor(Quiet()), grads: "1 2 3 4 251").Verdicts[^1];
        Assert.Equal(StabilitySignal.GradNormBlowUp, v.Evidence!.Signal);
        Assert.Equal(250.0, v.Evidence.Threshold);
        Assert.Equal("gradient norm 251 at step 4 is above 100 × its running median 2.5 over the last 4 steps (limit 250)", v.Reason);
    }

    [Fact]
    public void Observe_NegativeGradNorm_Throws() =>
        Assert.Throws<ArgumentException>(() => new StabilityMonitor().Observe(new StepObservation(0, 1, -1)));

    // ---- Oscillating: flip rate over a sliding window (window 4, rate 0.5: at most 2 flips) ----

    [Theory]
    [InlineData("0 1 0 0 0 0", "HHHHHH")]          // 2 flips in the window: not above
    [InlineData("0 1 1 0 0 0 1 1 0", "HHHHHHHHH")] // 2 flips in every window
    [InlineData("0 1 1 0 1 1 1", "HHHHOHH")]       // 3 flips in transitions 1..4, then 2
    [InlineData("0 1 0 1 0 0 0 0", "HHHHOOHH")]    // 4, then 3, then 2 flips
    [InlineData("0 1 0 1", "HHHH")]                // window not full yet: not judged
    [InlineData("-5 -4 -5 -4 -5 -4 -5", "HHHHOOO")]
    public void Observe_FlipRate_OscillatingAboveThreshold(string exponents, string expected) =>
        Assert.Equal(expected, Letters(Quiet(flipWindow: 4, maxFlipRate: 0.5), exponents));

    [Theory]
    // window 10, rate 0.2: at most 2 flips per 10 transitions
    [InlineData("3 3 3 3 3 3 3 3 4 3 3", "HHHHHHHHHHH")]
    [InlineData("3 3 3 3 3 3 3 3 4 3 4", "HHHHHHHHHHO")]
    // rate 0.3: at most 3
    [InlineData("3 3 3 3 3 3 3 3 4 3 4", "HHHHHHHHHHH", 0.3)]
    [InlineData("3 3 3 3 3 3 3 4 3 4 3", "HHHHHHHHHHO", 0.3)]
    public void Observe_FlipRate_JustBelowAndJustAboveTheThreshold(string exponents, string expected, double rate = 0.2) =>
        Assert.Equal(expected, Letters(Quiet(flipWindow: 10, maxFlipRate: rate), exponents));

    [Fact]
    public void Observe_Oscillation_ReportsTheChannelWithTheMostFlips()
    {
        // layer a channel 1 flips 3 times, layer b channel 2 flips 4 times in the window of 4.
        var (letters, verdicts) = MonitorScript.Run(new StabilityMonitor(Quiet(flipWindow: 4, maxFlipRate: 0.5)),
            "0,0|0,0,0 0,1|0,0,1 0,0|0,0,0 0,0|0,0,1 0,1|0,0,0");
        Assert.Equal("HHHHO", letters);
        var e = verdicts[^1].Evidence!;
        Assert.Equal((StabilitySignal.ExponentFlipRate, "b", 2, 4, 1.0, 0.5), (e.Signal, e.Layer, e.Channel, e.Window, e.Value, e.Threshold));
        Assert.Equal([0, 1, 0, 1, 0], e.RecentExponents);
        Assert.Equal("layer 'b' channel 2: exponent changed 4 times in the last 4 steps (rate 1 > max_flip_rate 0.5); latest: 0 1 0 1 0", verdicts[^1].Reason);
    }

    // ---- Drifting: bounds ----

    [Theory]
    [InlineData("-20", "H")]
    [InlineData("-21", "D")]
    [InlineData("-23", "D")]
    [InlineData("8", "H")]
    [InlineData("9", "D")]
    [InlineData("0,0,0|0,9", "D")]
    [InlineData("0 0 -21 0", "HHDH")]
    public void Observe_ExponentOutOfDefaultBounds_Drifting(string exponents, string expected) =>
        Assert.Equal(expected, Letters(Quiet(), exponents));

    [Theory]
    [InlineData("-21", -20, "below min_exponent -20 (the scale collapsed towards zero)")]
    [InlineData("9", 8, "above max_exponent 8 (the scale ran away towards infinity)")]
    public void Observe_ExponentOutOfBounds_EvidenceNamesLayerChannelAndBound(string exponents, int bound, string tail)
    {
        var v = MonitorScript.Run(new StabilityMonitor(Quiet()), "0,0|0," + exponents).Verdicts[0];
        var e = v.Evidence!;
        Assert.Equal((StabilitySignal.ExponentOutOfBounds, "b", 1, (double)bound), (e.Signal, e.Layer, e.Channel, e.Threshold));
        Assert.Equal($"layer 'b' channel 1: exponent {exponents} at step 0 is {tail}", v.Reason);
    }

    [Fact]
    public void Observe_CustomBounds_Judged() =>
        Assert.Equal("HDHD", Letters(Quiet() with { MinExponent = -8, MaxExponent = -2 }, "-8 -9 -2 -1"));

    // ---- Drifting: steady one-way movement (window 4, at least 2) ----

    [Theory]
    [InlineData("0 0 0 -1 -2", "HHHHD")]
    [InlineData("0 0 1 2 2", "HHHHD")]             // upwards
    [InlineData("0 0 0 0 -1", "HHHHH")]            // moved only 1
    [InlineData("0 -1 -1 -1 -1 -2", "HHHHHH")]     // 2 in all, but never 2 within one window
    [InlineData("0 1 0 -1 -2 -2", "HHHHHD")]       // the turn at step 2 is inside the window until step 5
    [InlineData("0 -1 -2", "HHH")]                 // window not full
    [InlineData("0 -1 -2 -1 -2 -3 -4 -4", "HHHHHHHD")] // turned up at step 3: steady only once the window starts at step 3
    public void Observe_SteadyDrift_DriftingWhenMovingOneWayByK(string exponents, string expected) =>
        Assert.Equal(expected, Letters(Quiet(driftWindow: 4, driftMinChange: 2), exponents));

    [Fact]
    public void Observe_SteadyDrift_Evidence()
    {
        var v = MonitorScript.Run(new StabilityMonitor(Quiet(driftWindow: 4, driftMinChange: 2)), "-3 -3 -3 -4 -5").Verdicts[^1];
        var e = v.Evidence!;
        Assert.Equal((StabilitySignal.ExponentSteadyDrift, "a", 0, 4, -5.0, 2.0, -3.0), (e.Signal, e.Layer, e.Channel, e.Window, e.Value, e.Threshold, e.Baseline));
        Assert.Equal("layer 'a' channel 0: exponent moved -3 → -5 over the last 4 steps without turning back, down (the scale shrinks towards zero); drift_min_change is 2", v.Reason);
    }

    [Fact]
    public void Observe_FastOneWayMoves_DriftingNotOscillating() =>
        // Every step flips (rate 1 > 0.5) but always the same way: drift wins.
        Assert.Equal("HHHHDD", Letters(Quiet(flipWindow: 4, maxFlipRate: 0.5, driftWindow: 4), "0 -1 -2 -3 -4 -5"));

    // ---- Warm-up ----

    [Theory]
    [InlineData(3, "0 1 0 1 0 1", "WWWHOO")]
    [InlineData(6, "0 1 0 1 0 1", "WWWWWW")]
    [InlineData(1, "-21 -21", "WD")]
    [InlineData(2, "0 0 0 -1 -2", "WWHHD")]
    public void Observe_Warmup_OnlyNonFiniteJudged(int warmup, string exponents, string expected) =>
        Assert.Equal(expected, Letters(Quiet(warmup, flipWindow: 4, driftWindow: 4), exponents));

    [Fact]
    public void Observe_DefaultOptions_WarmupIs200Steps()
    {
        var monitor = new StabilityMonitor();
        var exponents = string.Join(' ', Enumerable.Range(0, 201).Select(i => i % 2 == 0 ? "-25" : "-24"));
        var letters = MonitorScript.Run(monitor, exponents).Letters;
        Assert.Equal(new string('W', 200) + "D", letters);
    }

    // ---- Priority when several tests fire ----

    [Theory]
    [InlineData("0 1 0 1 -30", "nan", StabilitySignal.NonFiniteLoss)]          // NaN beats bounds and flips
    [InlineData("0 1 0 1 -30", "1 1 1 1 100", StabilitySignal.LossSpike)]      // spike beats bounds
    [InlineData("0 1 0 1 -30", "1", StabilitySignal.ExponentOutOfBounds)]      // bounds beat flips
    [InlineData("0 1 0 1 0", "1", StabilitySignal.ExponentFlipRate)]
    public void Observe_SeveralSignals_MostSevereWins(string exponents, string lastLoss, StabilitySignal expected)
    {
        var losses = lastLoss.Contains(' ') ? lastLoss : "1 1 1 1 " + lastLoss;
        var v = MonitorScript.Run(new StabilityMonitor(Quiet(flipWindow: 4, maxFlipRate: 0.5)), exponents, losses).Verdicts[^1];
        Assert.Equal(expected, v.Evidence!.Signal);
    }

    // ---- Healthy over a window / healthy since ----

    [Theory]
    [InlineData(0, "1 1 1", 10L, 3L)]
    [InlineData(2, "1 1 1 1", 12L, 2L)]
    [InlineData(2, "1 1 1 1 nan 1 1", 15L, 2L)]
    [InlineData(2, "1 1 1 1 nan", null, 0L)]
    [InlineData(5, "1 1 1", null, 0L)]           // still warming up: not yet judged healthy
    public void HealthySince_AfterScript_FirstStepOfTheHealthyRun(int warmup, string losses, long? since, long run)
    {
        var monitor = new StabilityMonitor(Quiet(warmup));
        MonitorScript.Run(monitor, losses: losses, firstStep: 10);
        Assert.Equal(since, monitor.HealthySince);
        Assert.Equal(run, monitor.HealthySteps);
        Assert.True(monitor.IsHealthyOver((int)run));
        Assert.False(monitor.IsHealthyOver((int)run + 1));
    }

    [Fact]
    public void IsHealthySince_StepsInsideAndOutsideTheRun()
    {
        var monitor = new StabilityMonitor(Quiet());
        MonitorScript.Run(monitor, losses: "1 nan 1 1 1", firstStep: 10); // healthy from step 12 to 14
        Assert.Equal([false, false, true, true, true, false], new long[] { 10, 11, 12, 13, 14, 15 }.Select(monitor.IsHealthySince));
    }

    // ---- Layers and steps ----

    [Fact]
    public void Observe_FloatModel_JudgesLossOnly() =>
        Assert.Equal("HHHHX", Letters(Quiet(), "_ _ _ _ _", "1 1 1 1 11"));

    [Fact]
    public void Observe_LayerAppearsLater_GetsItsOwnWindows()
    {
        // Layer b joins at step 2; its flip window (4) fills at step 6.
        var (letters, verdicts) = MonitorScript.Run(new StabilityMonitor(Quiet(flipWindow: 4, maxFlipRate: 0.5)),
            "0 0 0|1 0|0 0|1 0|0 0|1");
        Assert.Equal("HHHHHHO", letters);
        Assert.Equal("b", verdicts[^1].Evidence!.Layer);
    }

    [Fact]
    public void Observe_LayersInAnotherOrder_MatchedByName()
    {
        var monitor = new StabilityMonitor(Quiet(flipWindow: 4, maxFlipRate: 0.5));
        monitor.Observe(new StepObservation(0, 1, null, [new("a", [0]), new("b", [5, 5])]));
        var v = monitor.Observe(new StepObservation(1, 1, null, [new("b", [5, 5]), new("a", [-21])]));
        Assert.Equal(("a", 0), (v.Evidence!.Layer, v.Evidence.Channel));
    }

    [Theory]
    [InlineData(5, "0|0", "step 5 is not after the previous step 5; after a restart from a checkpoint use a new monitor")]
    [InlineData(4, "0|0", "step 4 is not after the previous step 5; after a restart from a checkpoint use a new monitor")]
    [InlineData(6, "0", "step 6: layer 'b' was reported before but is missing now")]
    [InlineData(6, "0|0,0", "step 6: layer 'b' has 2 exponents, but had 1 before")]
    [InlineData(6, "_", "step 6: no layers reported, but layer 'a' was reported before")]
    public void Observe_InconsistentInput_ThrowsAndChangesNothing(long step, string exponents, string message)
    {
        var monitor = new StabilityMonitor(Quiet(flipWindow: 4, maxFlipRate: 0.5));
        MonitorScript.Run(monitor, "0|0 0|0", firstStep: 4);
        var ex = Assert.Throws<ArgumentException>(() => monitor.Observe(new StepObservation(step, 1, null, MonitorScript.Layers(exponents))));
        Assert.StartsWith(message, ex.Message);
        Assert.Equal(2, monitor.Observations);
        Assert.True(monitor.Observe(new StepObservation(6, 1, null, MonitorScript.Layers("0|0"))).IsHealthy);
    }

    [Fact]
    public void Observe_SameLayerTwice_Throws()
    {
        var monitor = new StabilityMonitor(Quiet());
        var ex = Assert.Throws<ArgumentException>(() => monitor.Observe(new StepObservation(0, 1, null, [new("a", [0]), new("a", [0])])));
        Assert.StartsWith("step 0: layer 'a' is reported twice", ex.Message);
        Assert.Empty(monitor.Layers);
    }

    [Fact]
    public void Observe_ArraysReusedByTheCaller_OnlyValuesAtTheCallCount()
    {
        var monitor = new StabilityMonitor(Quiet(flipWindow: 4, maxFlipRate: 0.5));
        var e = new int[] { 0 };
        var layers = new[] { new LayerExponents("a", e) };
        var letters = new List<char>();
        foreach (int x in new[] { 0, 1, 0, 1, 0 })
        {
            e[0] = x;
            letters.Add(MonitorScript.Letter(monitor.Observe(new StepObservation(letters.Count, 1, null, layers))));
        }
        Assert.Equal("HHHHO", string.Concat(letters));
    }

    // ---- Options ----

    [Theory]
    [InlineData("warmup_steps", "must not be negative, found -1")]
    [InlineData("flip_window", "must be between 2 and 100000, found 1")]
    [InlineData("max_flip_rate", "must be in (0, 1), found 1")]
    [InlineData("min_exponent", "must be less than max_exponent (8), found 8")]
    [InlineData("drift_window", "must be between 2 and 100000, found 100001")]
    [InlineData("drift_min_change", "must be at least 1, found 0")]
    [InlineData("spike_window", "must be between 2 and 100000, found 0")]
    [InlineData("loss_spike_factor", "must be a finite number greater than 1, found 1")]
    [InlineData("grad_norm_factor", "must be a finite number greater than 1, found NaN")]
    public void Validate_BadValue_ErrorNamesTheKey(string key, string message)
    {
        var bad = key switch
        {
            "warmup_steps" => new StabilityOptions { WarmupSteps = -1 },
            "flip_window" => new StabilityOptions { FlipWindow = 1 },
            "max_flip_rate" => new StabilityOptions { MaxFlipRate = 1 },
            "min_exponent" => new StabilityOptions { MinExponent = 8 },
            "drift_window" => new StabilityOptions { DriftWindow = 100_001 },
            "drift_min_change" => new StabilityOptions { DriftMinChange = 0 },
            "spike_window" => new StabilityOptions { SpikeWindow = 0 },
            "loss_spike_factor" => new StabilityOptions { LossSpikeFactor = 1 },
            _ => new StabilityOptions { GradNormFactor = double.NaN },
        };
        Assert.Equal([new StabilityConfigError(key, message)], bad.Validate());
        Assert.Throws<ArgumentException>(() => new StabilityMonitor(bad));
    }

    [Fact]
    public void Validate_Defaults_Valid() => Assert.Empty(new StabilityOptions().Validate());
}
