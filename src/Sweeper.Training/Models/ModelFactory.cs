using Sweeper.Core.Spec;
using static TorchSharp.torch;

namespace Sweeper.Training.Models;

/// <summary>Maps <see cref="TrainableSpec.Model"/> to a module.</summary>
public static class ModelFactory
{
    public const string MobileNetV1Name = "mobilenet_v1";

    /// <summary>The model names this version knows.</summary>
    public static IReadOnlyList<string> Names { get; } = [MobileNetV1Name];

    /// <summary>Builds the model the spec names, with the spec's width, initialized from <paramref name="generator"/>.</summary>
    /// <exception cref="ArgumentException">Unknown model name (the message lists the valid ones).</exception>
    public static nn.Module<Tensor, Tensor> Create(TrainableSpec spec, int inputChannels, int classes, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Model switch
        {
            MobileNetV1Name => new MobileNetV1(spec.Width, inputChannels, classes, stemStride: 1, generator),
            _ => throw new ArgumentException(
                $"Unknown model '{spec.Model}'. Valid names: {string.Join(", ", Names)}.", nameof(spec)),
        };
    }
}
