using Sweeper.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Sweeper.Training.Torch;

/// <summary>
/// <c>torch.optim.Adam</c> (no AMSGrad) with the same update, operation for operation (so the same figures to the bit,
/// and the same checkpoint format), whose scalars are held for the whole step (<see cref="HeldScalars"/>): TorchSharp's
/// own step makes about eight scalars on the fly per parameter, each of which a garbage collection during the native call
/// could free under libtorch.
/// </summary>
public sealed class HeldScalarAdam : Adam
{
    public HeldScalarAdam(IEnumerable<Parameter> parameters, double lr, double weightDecay = 0)
        : base(parameters, lr, 0.9, 0.999, 1e-8, weightDecay, false, false)
    {
    }

    public HeldScalarAdam(IEnumerable<ParamGroup> groups, double lr, double weightDecay = 0)
        : base(groups, lr, 0.9, 0.999, 1e-8, weightDecay, false, false)
    {
    }

    /// <summary>Zeros every gradient in place, as TorchSharp's <c>zero_grad</c> does, without its per-parameter shape read (<see cref="GradientZeroing"/>).</summary>
    public override void zero_grad() => GradientZeroing.Zero(parameters());

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = group.Options;
        double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
        double eps = options.eps!.Value, lr = options.LearningRate!.Value;
        bool maximize = options.maximize!.Value;
        if (options.amsgrad!.Value) throw new NotSupportedException("AMSGrad is not used by Sweeper's trainables.");
        using var decay = weightDecay.ToScalar();
        using var b1 = beta1.ToScalar();
        using var b2 = beta2.ToScalar();
        using var oneMinusB1 = (1 - beta1).ToScalar();
        using var oneMinusB2 = (1 - beta2).ToScalar();
        using var epsilon = eps.ToScalar();
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;
            if (maximize) grad = -grad;
            state.step += 1;
            double correction1 = 1 - Math.Pow(beta1, state.step);
            double correction2 = 1 - Math.Pow(beta2, state.step);
            if (weightDecay != 0) grad = grad.add(param, decay);
            state.exp_avg.mul_(b1).add_(grad, oneMinusB1);
            state.exp_avg_sq.mul_(b2).addcmul_(grad, grad.conj(), oneMinusB2);
            using var root2 = Math.Sqrt(correction2).ToScalar();
            using var stepSize = (-(lr / correction1)).ToScalar();
            var denominator = state.exp_avg_sq.sqrt().div(root2).add_(epsilon, HeldScalars.One);
            param.addcdiv_(state.exp_avg, denominator, stepSize);
        }
    }, closure);
}
