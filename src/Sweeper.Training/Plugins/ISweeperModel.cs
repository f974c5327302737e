using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Plugins;

/// <summary>
/// A model plug-in: builds a TorchSharp module for a trial. Sweeper replaces the module's <c>Conv2d</c>s and
/// <c>Linear</c>s by quantized layers afterwards (see <see cref="Quantized.ModuleSurgery"/> for what that needs of the
/// module: its submodules registered with <c>RegisterComponents()</c>, fields that hold a <c>Conv2d</c>/<c>Linear</c>
/// declared as <c>Module&lt;Tensor, Tensor&gt;</c> unless the layer sits in a <c>Sequential</c> or <c>ModuleList</c>).
/// </summary>
/// <remarks>Implementations need a public parameterless constructor; one instance may build several modules.</remarks>
public interface ISweeperModel
{
    /// <summary>
    /// A new float module that maps a batch <c>[N, InputChannels, InputSize, InputSize]</c> to logits <c>[N, Classes]</c>.
    /// Draw its initial weights from <see cref="ModelContext.Generator"/> (e.g. with
    /// <see cref="ModelContext.ResetParameters"/>) so that a trial's seed alone decides them.
    /// </summary>
    nn.Module<Tensor, Tensor> Build(ModelContext context);
}
