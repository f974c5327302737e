using Sweeper.Quantization.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Quantized;

/// <summary>Finding, naming, initializing and inspecting the <see cref="IQuantizableLayer"/>s of a model.</summary>
public static class QuantizableLayers
{
    /// <summary>
    /// Training: runs the quantizers of <paramref name="layers"/>' conv+BN layers back to back before the model's
    /// forward pass uses them (each layer takes its prepared weight instead of quantizing between two convolutions). A
    /// quantizer run between convolutions finds its weight and buffers evicted from the caches; run back to back they
    /// cost about half (see README, "Speed and memory"). They run as one call, <see cref="WeightQuantizer.ForwardAll"/>,
    /// whose fake-quant passes are one autograd node instead of one per layer. Every quantizer sees the same weight, in
    /// the same order, as it would in the forward pass, so the step is the same to the bit. Dispose the result after the forward pass: it drops
    /// whatever a failed pass did not take. Layers that fold BN quantize in their forward pass as before (the folded
    /// weight needs this step's statistics).
    /// </summary>
    internal static PreparedWeights QuantizeAhead(IEnumerable<IQuantizableLayer> layers, bool training)
    {
        if (!training) return default;
        List<ConvBn>? prepared = null;
        foreach (var layer in layers)
            if (layer is ConvBn conv && conv.QuantizesAhead) (prepared ??= new()).Add(conv);
        if (prepared is null) return default;

        // One autograd node for all their fused quantizer nodes (WeightQuantizer.ForwardAll): the same calls, in order.
        var outputs = WeightQuantizer.ForwardAll(prepared.ConvertAll(conv => conv.Quantizer!), prepared.ConvertAll(conv => (Tensor)conv.Weight));
        for (int i = 0; i < prepared.Count; i++) prepared[i].SetPreparedWeight(outputs[i]);
        return new PreparedWeights(prepared);
    }

    /// <summary>What <see cref="QuantizeAhead"/> prepared; disposing it drops what the forward pass did not take.</summary>
    internal readonly struct PreparedWeights(List<ConvBn>? layers) : IDisposable
    {
        public void Dispose()
        {
            if (layers is null) return;
            foreach (var layer in layers) layer.ClearPreparedWeight();
        }
    }

    /// <summary>
    /// Names every <see cref="IQuantizableLayer"/> of <paramref name="model"/> by its module path and returns them in
    /// <paramref name="forwardOrder"/> (the order the forward pass uses them). Call once the model has registered its
    /// components.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="forwardOrder"/> is not exactly the model's layers.</exception>
    public static IReadOnlyList<IQuantizableLayer> Bind(nn.Module model, IEnumerable<IQuantizableLayer> forwardOrder)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(forwardOrder);
        var names = new Dictionary<IQuantizableLayer, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, module) in model.named_modules())
        {
            if (module is IQuantizableLayer layer) names[layer] = name;
        }

        var layers = forwardOrder.ToList();
        if (layers.Count != names.Count || layers.Distinct(ReferenceEqualityComparer.Instance).Count() != layers.Count || !layers.All(names.ContainsKey))
            throw new ArgumentException($"The forward order lists {layers.Count} layers; the model has {names.Count}.", nameof(forwardOrder));
        foreach (var layer in layers)
        {
            switch (layer)
            {
                case ConvBn conv: conv.LayerName = names[layer]; break;
                case QuantConv2d conv: conv.LayerName = names[layer]; break;
                case QuantLinear linear: linear.LayerName = names[layer]; break;
            }
        }
        return layers;
    }

    /// <summary>
    /// PyTorch's default initialization of convolutions and linear layers (uniform ±1/√fan_in for weights and linear
    /// biases; BN keeps γ = 1, β = 0), drawn from <paramref name="generator"/> in layer order, so that a model's weights
    /// depend on the generator's seed only.
    /// </summary>
    public static void InitializeUniformFanIn(IEnumerable<IQuantizableLayer> layers, Generator? generator)
    {
        ArgumentNullException.ThrowIfNull(layers);
        using var noGrad = torch.no_grad();
        foreach (var layer in layers)
        {
            switch (layer)
            {
                case ConvBn conv:
                    UniformFanIn(conv.Weight, null, generator);
                    break;
                case QuantConv2d conv:
                    UniformFanIn(conv.Weight, conv.Bias, generator);
                    break;
                case QuantLinear linear:
                    UniformFanIn(linear.Weight, linear.Bias, generator);
                    break;
            }
        }
    }

    /// <summary>
    /// While the returned object lives, every layer computes in eval mode with its <see cref="IQuantizableLayer.EvalWeight"/>
    /// computed once now, instead of quantizing again for every batch (bitwise the same result: eval calls of a quantizer
    /// are pure functions of the weight and the quantizer's state). Dispose it before the next training step.
    /// </summary>
    public static IDisposable CacheEvalWeights(IEnumerable<IQuantizableLayer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var cache = new EvalWeightCache();
        foreach (var layer in layers)
        {
            if (layer.Quantizer is null && !layer.FoldsBatchNorm) continue; // nothing to save
            var w = layer.EvalWeight().DetachFromDisposeScope();
            cache.Add(layer, w);
        }
        return cache;
    }

    /// <summary>
    /// One eval-mode call of every quantizer with diagnostics on, on the layer's current effective weight: what the model
    /// evaluates with now. Changes no quantizer state. Layers without a quantizer are skipped.
    /// </summary>
    public static IReadOnlyList<(IQuantizableLayer Layer, QuantizerDiagnostics Diagnostics)> Diagnose(IEnumerable<IQuantizableLayer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var result = new List<(IQuantizableLayer, QuantizerDiagnostics)>();
        foreach (var layer in layers)
        {
            var q = layer.Quantizer;
            if (q is null) continue;
            var collect = q.CollectDiagnostics;
            q.CollectDiagnostics = true;
            try
            {
                using var scope = torch.NewDisposeScope();
                _ = EvalWeight(layer, q);
                result.Add((layer, q.LastDiagnostics!));
            }
            finally
            {
                q.CollectDiagnostics = collect;
            }
        }
        return result;
    }

    /// <summary>The eval-mode quantized effective weight (see <see cref="IQuantizableLayer.EvalWeight"/>).</summary>
    internal static Tensor EvalWeight(IQuantizableLayer layer, WeightQuantizer? quantizer)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var w = layer.EffectiveWeight();
        if (quantizer is null) return w.MoveToOuterDisposeScope();
        var wasTraining = quantizer.training;
        if (wasTraining) quantizer.eval();
        try
        {
            return quantizer.forward(w).MoveToOuterDisposeScope();
        }
        finally
        {
            if (wasTraining) quantizer.train();
        }
    }

    private static void UniformFanIn(Tensor weight, Tensor? bias, Generator? generator)
    {
        // weight is [out, in/groups, k, k] or [out, in]: fan-in is everything but the first dimension.
        long fanIn = weight.numel() / weight.shape[0];
        double bound = 1 / Math.Sqrt(fanIn);
        // Tensor.uniform_, not nn.init.uniform_: the latter ignores its generator argument in TorchSharp 0.107.
        weight.uniform_(-bound, bound, generator);
        bias?.uniform_(-bound, bound, generator);
    }

    private sealed class EvalWeightCache : IDisposable
    {
        private readonly List<(IQuantizableLayer Layer, Tensor Weight)> entries = [];

        public void Add(IQuantizableLayer layer, Tensor weight)
        {
            entries.Add((layer, weight));
            Use(layer, weight);
        }

        public void Dispose()
        {
            foreach (var (layer, weight) in entries)
            {
                Use(layer, null);
                weight.Dispose();
            }
            entries.Clear();
        }

        private static void Use(IQuantizableLayer layer, Tensor? weight)
        {
            switch (layer)
            {
                case ConvBn conv: conv.UseCachedWeight(weight); break;
                case QuantConv2d conv: conv.UseCachedWeight(weight); break;
                case QuantLinear linear: linear.UseCachedWeight(weight); break;
            }
        }
    }
}
