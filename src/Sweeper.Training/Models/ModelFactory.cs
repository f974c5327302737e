using Sweeper.Core.Spec;
using Sweeper.Training.Quantized;
using static TorchSharp.torch;

namespace Sweeper.Training.Models;

/// <summary>Maps <see cref="TrainableSpec.Model"/> to a module.</summary>
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
        if (!Names.Contains(spec.Model))
            throw new ArgumentException($"Unknown model '{spec.Model}'. Valid names: {string.Join(", ", Names)}.", nameof(spec));
        plan ??= new QuantizationPlan(spec.Quantizer);
        return spec.Model switch
        {
            MobileNetV1Name => new MobileNetV1(spec.Width, inputChannels, classes, stemStride: 1, generator, plan),
            _ => new MobileNetV2(spec.Width, inputChannels, classes, stemStride: 1, generator, plan),
        };
    }
}
