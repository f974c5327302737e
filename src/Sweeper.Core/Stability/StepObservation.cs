namespace Sweeper.Core.Stability;

/// <summary>The power-of-two exponents of one quantized layer at one step: one per channel (one for per-tensor).</summary>
/// <param name="Name">The layer's name; the same string every step.</param>
/// <param name="Exponents">The exponent per channel. The array is read during <see cref="StabilityMonitor.Observe"/> only, so a caller may reuse it.</param>
public readonly record struct LayerExponents(string Name, int[] Exponents);

/// <summary>What the monitor is told about one training step.</summary>
/// <param name="Step">The training step's index; strictly increasing from one observation to the next.</param>
/// <param name="Loss">The step's training loss; NaN and ±∞ are allowed (they are what the monitor looks for).</param>
/// <param name="GradNorm">The global gradient norm, when the trainable computes it; NaN and +∞ are allowed, negative values are not.</param>
/// <param name="Layers">
/// Every quantized layer's exponents, in a stable order; null or empty for a float model. A layer may first appear
/// after some steps (quantization starting late); once seen it must be reported at every step with the same channel count.
/// </param>
public readonly record struct StepObservation(long Step, double Loss, double? GradNorm = null, IReadOnlyList<LayerExponents>? Layers = null);
