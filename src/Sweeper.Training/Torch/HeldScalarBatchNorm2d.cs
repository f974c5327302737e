using Sweeper.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Sweeper.Training.Torch;

/// <summary>
/// <c>nn.BatchNorm2d</c> (affine, tracking running statistics) with the same forward pass, whose count of tracked
/// batches is incremented by a held scalar (<see cref="HeldScalars"/>): TorchSharp's own forward increments it with a
/// scalar made on the fly, which a garbage collection during the native call could free under libtorch. Same parameter
/// and buffer names, so checkpoints are interchangeable with <c>nn.BatchNorm2d</c>'s.
/// </summary>
public sealed class HeldScalarBatchNorm2d : BatchNorm
{
    public HeldScalarBatchNorm2d(long features, double eps = 1e-5, double momentum = 0.1)
        : base(features, eps, momentum, true, true, null, null, nameof(TorchSharp.Modules.BatchNorm2d))
    {
    }

    protected override void ValidateInputDimensions(Tensor input)
    {
        if (input.ndim != 4) throw new ArgumentException($"expected 4D input, but got {input.ndim}D input.");
    }

    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double factor = momentum ?? 0;
        if (training && track_running_stats && num_batches_tracked is not null)
        {
            num_batches_tracked.add_(HeldScalars.One, HeldScalars.One);
            if (factor == 0) factor = 1.0 / num_batches_tracked.item<long>(); // as TorchSharp's (and PyTorch's cumulative average)
        }
        bool useRunning = !training || track_running_stats;
        return F.batch_norm(input, useRunning ? running_mean : null, useRunning ? running_var : null, weight, bias,
            training || (running_mean is null && running_var is null), factor, eps); // eval: the running statistics, as PyTorch
    }
}
