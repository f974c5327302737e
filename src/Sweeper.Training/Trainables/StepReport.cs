namespace Sweeper.Training.Trainables;

/// <summary>
/// What one training step did, handed to <see cref="TorchTrainable.StepCompleted"/> right after the optimizer step, on
/// the training thread. A struct over buffers the trainable reuses from step to step: <see cref="Exponents"/> (and its
/// arrays) are overwritten by the next step, so copy what you keep beyond the callback.
/// </summary>
/// <param name="Epoch">The epoch (1-based).</param>
/// <param name="Step">The optimizer step over the whole run (0-based: (epoch − 1) × steps per epoch + step in epoch).</param>
/// <param name="Loss">The step's mean training loss.</param>
/// <param name="GradientNorm">Global L2 norm of all parameter gradients of the step (before the optimizer's weight decay).</param>
/// <param name="LearningRate">The learning rate the step used.</param>
/// <param name="Layers">Names of the quantized layers (module paths), the same list at every step.</param>
/// <param name="Exponents">Per quantized layer, the exponent per channel this step used (power-of-two quantizers; empty for LSQ).</param>
/// <param name="TotalFlips">Exponent changes so far, summed over all quantized layers (includes this step's).</param>
public readonly record struct StepReport(
    int Epoch,
    long Step,
    double Loss,
    double GradientNorm,
    double LearningRate,
    IReadOnlyList<string> Layers,
    IReadOnlyList<int[]> Exponents,
    long TotalFlips);
