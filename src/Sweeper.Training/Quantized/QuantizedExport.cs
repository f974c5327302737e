using System.Text.Json;
using System.Text.Json.Serialization;
using Sweeper.Core.Spec;
using Sweeper.Quantization.Training;
using Sweeper.Training.Models;
using Sweeper.Training.Trainables;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Quantized;

/// <summary>What an accelerator needs of a trained quantized model: every quantized layer's integer codes and scales.</summary>
public sealed record QuantizedModelExport
{
    /// <summary><see cref="QuantizedExport.Format"/>.</summary>
    public required string Format { get; init; }
    public required string Model { get; init; }
    public required double Width { get; init; }
    public required int InputSize { get; init; }
    public required int InputChannels { get; init; }
    public required int Classes { get; init; }
    /// <summary>The quantizer method (<c>legacy_auto_po2</c>, <c>msqe_po2</c>, <c>learnable_po2</c>, <c>lsq</c>; <c>none</c>: no layers).</summary>
    public required string Method { get; init; }
    public required int Bits { get; init; }
    public required bool PerChannel { get; init; }
    /// <summary>With <see cref="PerChannel"/>: whether depthwise layers have one scale per channel (else one per layer, channel axis null).</summary>
    public bool DepthwisePerChannel { get; init; } = true;
    /// <summary>The BN folding recipe the model was trained with: <c>none</c>, <c>qkeras</c> or <c>pytorch</c> (folded layers export the same eval form either way).</summary>
    public required string BnFold { get; init; }
    /// <summary>Epochs the checkpoint had completed (0 when exported from a live model).</summary>
    public int CompletedEpochs { get; init; }
    /// <summary>The quantized layers, in model order.</summary>
    public required IReadOnlyList<QuantizedLayerExport> Layers { get; init; }
    /// <summary>The convolutions and linear layers left in float (names only).</summary>
    public IReadOnlyList<string> FloatLayers { get; init; } = [];
}

/// <summary>
/// One quantized layer. The weight it computes with is <c>codes · 2^exponent</c> per channel (power-of-two methods;
/// <see cref="Exponents"/> are the shift amounts) or <c>codes · step</c> (LSQ, <see cref="StepSizes"/>), per output
/// channel (<see cref="ChannelAxis"/> 0) or per tensor (null, one value).
/// </summary>
public sealed record QuantizedLayerExport
{
    /// <summary>Module path, e.g. <c>features.3.pw</c>.</summary>
    public required string Name { get; init; }
    /// <summary><c>conv2d</c> or <c>linear</c>.</summary>
    public required string Kind { get; init; }
    /// <summary>PyTorch layout: <c>[out, in/groups, kh, kw]</c> or <c>[out, in]</c>.</summary>
    public required long[] Shape { get; init; }
    public required int Bits { get; init; }
    /// <summary>0 (one scale per output channel) or null (per tensor; also a depthwise layer with depthwise_per_channel false).</summary>
    public int? ChannelAxis { get; init; }
    /// <summary>Signed integer codes in −(2^(bits−1)−1) … 2^(bits−1)−1, row-major over <see cref="Shape"/>.</summary>
    public required int[] Codes { get; init; }
    /// <summary>Power-of-two methods: the exponent e per channel (weight = code · 2^e); null for LSQ.</summary>
    public int[]? Exponents { get; init; }
    /// <summary>LSQ: the step per channel (weight = code · step, in float32); null for power-of-two methods.</summary>
    public float[]? StepSizes { get; init; }
    /// <summary>Convolutions: stride, zero padding and groups.</summary>
    public int Stride { get; init; } = 1;
    public int Padding { get; init; }
    public int Groups { get; init; } = 1;
    /// <summary>Activation after the layer (after BN): <c>none</c>, <c>relu</c>, <c>relu6</c>.</summary>
    public string Activation { get; init; } = "none";
    /// <summary>Whether the codes are of the BN-folded weight W·γ/√(σ²+ε) (then <see cref="Bias"/> is the folded bias).</summary>
    public bool BnFolded { get; init; }
    /// <summary>Per output channel: the linear layer's bias, or a folded convolution's β − μ·γ/√(σ²+ε); null otherwise.</summary>
    public float[]? Bias { get; init; }
    /// <summary>An unfolded convolution's BatchNorm (applied to the convolution's output), else null.</summary>
    public BatchNormExport? BatchNorm { get; init; }

    /// <summary>The weight the layer computes with, row-major: code · 2^e (exact in float32) or code · step (a float32 product).</summary>
    public float[] Dequantize()
    {
        var result = new float[Codes.Length];
        long channels = ChannelAxis is null ? 1 : Shape[0];
        long perChannel = Codes.Length / channels;
        for (long i = 0; i < Codes.Length; i++)
        {
            long c = i / perChannel;
            result[i] = Exponents is not null
                ? (float)(Codes[i] * Math.ScaleB(1.0, Exponents[c]))
                : Codes[i] * StepSizes![c];
        }
        return result;
    }
}

/// <summary>A BatchNorm in eval form: y = (x − <see cref="RunningMean"/>) / √(<see cref="RunningVar"/> + ε) · γ + β.</summary>
public sealed record BatchNormExport(float[] Gamma, float[] Beta, float[] RunningMean, float[] RunningVar, double Eps);

/// <summary>
/// Exports the integer form of a quantized model: for every quantized layer its name, shape, bits, channel axis,
/// codes, PO2 exponents (or LSQ steps) and the float bias / BatchNorm parameters it needs, as JSON. The codes and
/// scales are those of the model's eval-mode forward, so <c>codes · 2^exponent</c> equals the fake-quantized weight the
/// model computes with, exactly (<see cref="QuantizedLayerExport.Dequantize"/>).
/// </summary>
public static class QuantizedExport
{
    /// <summary>Version 2: <c>bn_fold</c> names the recipe (was a boolean), <c>depthwise_per_channel</c> added.</summary>
    public const string Format = "sweeper-quantized-export/2";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
    };

    /// <summary>
    /// Loads a <see cref="TorchTrainable"/> checkpoint into the model <paramref name="spec"/> describes (the spec the
    /// trial was trained with: model, width, input, quantizer) and exports it.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, one of another model, width, input or quantizer, or non-finite weights.</exception>
    public static QuantizedModelExport FromCheckpoint(string checkpointPath, TrainableSpec spec)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointPath);
        ArgumentNullException.ThrowIfNull(spec);
        using var stream = new FileStream(checkpointPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var reader = new BinaryReader(stream);
        var header = CheckpointHeader.Read(reader, checkpointPath);
        header.ExpectCompatible(checkpointPath, spec, header.Classes, checkOptimizer: false);
        using var scope = torch.NewDisposeScope();
        using var init = new Generator(0); // the weights are overwritten by the checkpoint; keep the global generator untouched
        using var model = ModelFactory.Create(spec, header.InputChannels, header.InputSize, header.Classes, init, new QuantizationPlan(spec.Quantizer));
        try
        {
            model.load(reader, strict: true);
        }
        catch (ArgumentException e) // e.g. a plug-in built with other trainable.args: other layers or shapes
        {
            throw new InvalidDataException($"Checkpoint '{checkpointPath}' does not fit the model {spec.Model} of these settings: {e.Message}", e);
        }
        model.eval();
        var layers = ((IQuantizableModel)model).Layers;
        return FromLayers(layers, spec with { InputSize = header.InputSize, InputChannels = header.InputChannels }, header.Classes) with { CompletedEpochs = header.CompletedEpochs };
    }

    /// <summary>Exports the quantized layers of a live model built from <paramref name="spec"/> (changes no quantizer state).</summary>
    public static QuantizedModelExport FromLayers(IEnumerable<IQuantizableLayer> layers, TrainableSpec spec, int classes)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(spec);
        var list = layers.ToList();
        return new QuantizedModelExport
        {
            Format = Format,
            Model = spec.Model,
            Width = spec.Width,
            InputSize = spec.InputSize ?? 0,
            InputChannels = spec.InputChannels ?? 0,
            Classes = classes,
            Method = spec.Quantizer.Method,
            Bits = spec.Quantizer.Bits,
            PerChannel = spec.Quantizer.PerChannel,
            DepthwisePerChannel = spec.Quantizer.DepthwisePerChannel,
            BnFold = spec.Quantizer.BnFold,
            Layers = list.Where(l => l.Quantizer is not null).Select(ExportLayer).ToList(),
            FloatLayers = list.Where(l => l.Quantizer is null).Select(l => l.LayerName).ToList(),
        };
    }

    public static string ToJson(QuantizedModelExport export)
    {
        ArgumentNullException.ThrowIfNull(export);
        return JsonSerializer.Serialize(export, Json);
    }

    /// <exception cref="JsonException">Malformed JSON, or another format.</exception>
    public static QuantizedModelExport FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var export = JsonSerializer.Deserialize<QuantizedModelExport>(json, Json) ?? throw new JsonException("The export is empty.");
        if (export.Format != Format) throw new JsonException($"Unknown export format '{export.Format}'; this version reads '{Format}'.");
        return export;
    }

    private static QuantizedLayerExport ExportLayer(IQuantizableLayer layer)
    {
        var q = layer.Quantizer!;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        if (!layer.EffectiveWeight().isfinite().all().item<bool>())
            throw new InvalidDataException($"{layer.LayerName}: the weights are not finite (the run diverged); there is nothing to export.");
        var collect = q.CollectDiagnostics;
        Tensor y;
        QuantizerDiagnostics diagnostics;
        q.CollectDiagnostics = true;
        try
        {
            y = layer.EvalWeight();
            diagnostics = q.LastDiagnostics!;
        }
        finally
        {
            q.CollectDiagnostics = collect;
        }

        var shape = layer.WeightShape;
        var broadcast = Enumerable.Repeat(1L, shape.Length).ToArray();
        if (q.ChannelAxis is not null) broadcast[0] = shape[0];
        int[]? exponents = null;
        float[]? steps = null;
        Tensor scale;
        if (q is Po2WeightQuantizer)
        {
            exponents = diagnostics.Exponents.Select(e => checked((int)e)).ToArray();
            scale = torch.tensor(exponents.Select(e => (float)Math.ScaleB(1.0, e)).ToArray()).reshape(broadcast);
        }
        else
        {
            steps = diagnostics.Scales.Select(s => (float)s).ToArray();
            scale = torch.tensor(steps).reshape(broadcast);
        }

        var codes = torch.round(y / scale);
        if (!codes.mul(scale).eq(y).all().item<bool>())
            throw new InvalidOperationException($"{layer.LayerName}: the fake-quantized weight is not codes × scale (non-finite weights?).");
        var codeValues = codes.to_type(ScalarType.Int32).reshape(-1).data<int>().ToArray();

        var export = new QuantizedLayerExport
        {
            Name = layer.LayerName,
            Kind = layer is ConvBn or QuantConv2d ? "conv2d" : "linear",
            Shape = shape,
            Bits = q.Bits,
            ChannelAxis = q.ChannelAxis,
            Codes = codeValues,
            Exponents = exponents,
            StepSizes = steps,
            BnFolded = layer.FoldsBatchNorm,
        };
        return layer switch
        {
            ConvBn conv => export with
            {
                Stride = (int)conv.Stride,
                Padding = (int)conv.Padding,
                Groups = (int)conv.Groups,
                Activation = conv.Activation switch { Activation.ReLU => "relu", Activation.ReLU6 => "relu6", _ => "none" },
                Bias = conv.FoldsBatchNorm ? Floats(conv.FoldedBias()) : null,
                BatchNorm = conv.FoldsBatchNorm ? null : new BatchNormExport(
                    Floats(conv.BatchNorm.weight), Floats(conv.BatchNorm.bias!), Floats(conv.BatchNorm.running_mean!),
                    Floats(conv.BatchNorm.running_var!), conv.BatchNorm.eps),
            },
            QuantConv2d conv => export with
            {
                Stride = (int)conv.Stride,
                Padding = (int)conv.Padding,
                Groups = (int)conv.Groups,
                Bias = conv.Bias is { } bias ? Floats(bias) : null,
            },
            QuantLinear linear => export with { Bias = Floats(linear.Bias) },
            _ => export,
        };
    }

    private static float[] Floats(Tensor t) => t.detach().to_type(ScalarType.Float32).contiguous().reshape(-1).data<float>().ToArray();
}
