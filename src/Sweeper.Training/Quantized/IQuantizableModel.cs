namespace Sweeper.Training.Quantized;

/// <summary>A model built from <see cref="IQuantizableLayer"/>s (every Conv2d and Linear of it).</summary>
public interface IQuantizableModel
{
    /// <summary>Every convolution and linear layer, named by module path, in module order.</summary>
    IReadOnlyList<IQuantizableLayer> Layers { get; }
}
