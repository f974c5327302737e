using Sweeper.Core.Spec;
using Sweeper.Training.Plugins;
using Sweeper.Training.Quantized;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Models;

/// <summary>Maps <see cref="TrainableSpec.Model"/> (or <see cref="TrainableSpec.Plugin"/>) to a module.</summary>
public static class ModelFactory
{
    public const string MobileNetV1Name = "mobilenet_v1";
    public const string MobileNetV2Name = "mobilenet_v2";

    /// <summary>The model names this version knows.</summary>
    public static IReadOnlyList<string> Names { get; } = [MobileNetV1Name, MobileNetV2Name];

    /// <summary>
    /// Builds the model the spec names, with the spec's width, initialized from <paramref name="generator"/>, its weights
    /// quantized as <paramref name="plan"/> says (null: as the spec's <see cref="TrainableSpec.Quantizer"/> says, with
    /// msqe_po2's stable exponent frozen only on request).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown model name (the message lists the valid ones) or quantizer settings.</exception>
    public static nn.Module<Tensor, Tensor> Create(TrainableSpec spec, int inputChannels, int classes, Generator? generator = null, QuantizationPlan? plan = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Plugin is not null)
            throw new ArgumentException($"The model plug-in '{spec.Model}' needs the input size: call the overload that takes it.", nameof(spec));
        if (!Names.Contains(spec.Model))
            throw new ArgumentException($"Unknown model '{spec.Model}'. Valid names: {string.Join(", ", Names)}.", nameof(spec));
        plan ??= new QuantizationPlan(spec.Quantizer);
        return spec.Model switch
        {
            MobileNetV1Name => new MobileNetV1(spec.Width, inputChannels, classes, stemStride: 1, generator, plan),
            _ => new MobileNetV2(spec.Width, inputChannels, classes, stemStride: 1, generator, plan),
        };
    }

    /// <summary>
    /// Builds the model of <paramref name="spec"/> for images of <paramref name="inputChannels"/> × <paramref name="inputSize"/>²:
    /// a built-in as <see cref="Create(TrainableSpec, int, int, Generator?, QuantizationPlan?)"/> does, or a model plug-in
    /// (<see cref="TrainableSpec.Plugin"/>, an <see cref="ISweeperModel"/>): its module built with a <see cref="ModelContext"/>
    /// of the input, the classes, <see cref="TrainableSpec.Args"/> and <paramref name="generator"/>, then quantized by
    /// <see cref="ModuleSurgery"/> (the result is a <see cref="QuantizedModel"/> named after the plug-in's type).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown model name or quantizer settings.</exception>
    /// <exception cref="PluginLoadException">The plug-in cannot be loaded, or is not an <see cref="ISweeperModel"/>.</exception>
    /// <exception cref="InvalidOperationException">The plug-in's <see cref="ISweeperModel.Build"/> threw or returned null.</exception>
    /// <exception cref="NotSupportedException">The plug-in's module has a layer <see cref="ModuleSurgery"/> cannot replace.</exception>
    public static nn.Module<Tensor, Tensor> Create(TrainableSpec spec, int inputChannels, int inputSize, int classes, Generator? generator = null, QuantizationPlan? plan = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Plugin is not { } plugin) return Create(spec, inputChannels, classes, generator, plan);
        plan ??= new QuantizationPlan(spec.Quantizer);
        var factory = PluginLoader.CreateModel(plugin);
        using var own = generator is null ? new Generator(0) : null;
        var context = new ModelContext(inputChannels, inputSize, classes, spec.Args, generator ?? own!);
        nn.Module<Tensor, Tensor>? module;
        try
        {
            module = factory.Build(context);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{plugin.Type}.Build threw {e.GetType().Name}: {e.Message}", e);
        }
        if (module is null) throw new InvalidOperationException($"{plugin.Type}.Build returned null.");
        try
        {
            return ModuleSurgery.Apply(module, plan, spec.Model);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }
}
