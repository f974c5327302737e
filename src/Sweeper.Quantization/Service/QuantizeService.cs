using System.Text;
using System.Text.Json;
using Sweeper.Quantization.Po2;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Service;

/// <summary>
/// Request/response layer of <c>sweeper quantize --input request.json</c>. A request is a JSON object with
/// the fields of a golden case (<c>method</c>, <c>bits</c>, <c>channel_axis</c>, <c>shape</c>, <c>input</c>,
/// <c>options</c>; optional <c>name</c>; the descriptive golden fields <c>per_channel</c>, <c>layout</c>,
/// <c>note</c>, <c>tags</c>, <c>provenance</c> are accepted), or an array of them. The response has, per
/// request and in order, the fields of a golden case's <c>expected</c>: <c>exponents</c> (PO2 methods) or
/// <c>step</c> (lsq), <c>codes</c>, <c>dequantized</c>, <c>msqe</c>, <c>weighted_msqe</c> (msqe_po2 and
/// learnable_po2 with msqe_round) and <c>intermediate</c>; <c>name</c> is echoed when given. A single
/// request object gives a single response object, an array gives an array.
/// <para>
/// A request with <c>upstream</c> (the gradient at the quantizer's output, row-major like <c>input</c>) also gets
/// <c>grad_input</c> (dL/dx), and <c>grad_log2_scale</c> (learnable_po2) or <c>grad_step</c> (lsq) per channel, from
/// the backward pass of the training-time quantizer module of its method (see <see cref="Backward"/>); the forward
/// fields stay those of the reference functions, which the module's forward must reproduce.
/// </para>
/// </summary>
public static class QuantizeService
{
    /// <summary>Largest request input accepted, in bytes (64 MiB).</summary>
    public const long MaxInputBytes = 64L << 20;

    /// <summary>Most tensor elements accepted in one input, all requests together (2^24, about 16.8 million).</summary>
    public const long MaxTotalElements = 1L << 24;

    /// <summary>Most requests accepted in one input.</summary>
    public const int MaxRequests = 10_000;

    /// <summary>Valid method names.</summary>
    public static IReadOnlyList<string> Methods => Po2Quantizers.MethodNames.All;

    /// <summary>Parses, validates and runs every request; returns the response JSON.</summary>
    /// <exception cref="QuantizeRequestException">The input is malformed or a request is invalid (nothing is run then).</exception>
    public static string Run(string json, bool indented = false)
    {
        var (requests, isArray) = QuantizeRequestParser.Parse(json);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            if (isArray) writer.WriteStartArray();

            foreach (var request in requests)
            {
                using var scope = torch.NewDisposeScope();
                using var result = Quantize(request);
                var gradients = request.Upstream is null ? null : Backward(request, result);
                WriteResponse(writer, request, result, gradients);
            }

            if (isArray) writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Parses and validates requests without running them.</summary>
    /// <exception cref="QuantizeRequestException">The input is malformed or a request is invalid.</exception>
    public static IReadOnlyList<QuantizeRequest> Parse(string json) => QuantizeRequestParser.Parse(json).Requests;

    /// <summary>Runs one validated request. The caller disposes the result.</summary>
    public static QuantizationResult Quantize(QuantizeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(request.Input).reshape(request.Shape);
        QuantizationResult result = request.Options switch
        {
            LegacyAutoPo2RequestOptions o => Po2Quantizers.LegacyAutoPo2(x, request.Bits, request.ChannelAxis, new LegacyAutoPo2Options { Iterations = o.Iterations }),
            MsqePo2RequestOptions o => Po2Quantizers.MsqePo2(x, request.Bits, request.ChannelAxis, new MsqePo2Options
            {
                InitExponent = o.InitExponent is null ? null : torch.tensor(o.InitExponent),
                LlsIters = o.LlsIters,
                LineSearch = o.LineSearch,
                LineSearchRange = o.LineSearchRange,
                OutlierSigma = o.OutlierSigma,
                Weights = o.Weights is null ? null : torch.tensor(o.Weights).reshape(request.Shape),
            }),
            LearnablePo2RequestOptions o => Po2Quantizers.LearnablePo2(x, request.Bits, request.ChannelAxis, new LearnablePo2Options
            {
                Mode = o.Mode,
                Log2Scale = o.Log2Scale is null ? null : torch.tensor(o.Log2Scale),
                MinInitScale = o.MinInitScale,
                OutlierMask = o.OutlierMask,
                Weights = o.Weights is null ? null : torch.tensor(o.Weights).reshape(request.Shape),
            }),
            LsqRequestOptions o => Po2Quantizers.Lsq(x, request.Bits, request.ChannelAxis, new LsqOptions
            {
                Step = o.Step is null ? null : torch.tensor(o.Step),
            }),
            _ => throw new ArgumentException($"Unsupported options type {request.Options.GetType().Name}.", nameof(request)),
        };
        result.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// Gradients for the request's <see cref="QuantizeRequest.Upstream"/> from the backward pass of the training-time
    /// quantizer (<see cref="LegacyAutoPo2Quantizer"/>, <see cref="MsqePo2Quantizer"/>, <see cref="LearnablePo2Quantizer"/>,
    /// <see cref="LsqQuantizer"/>), configured from the request's options; <paramref name="forward"/> is the request's
    /// reference forward (<see cref="Quantize"/>), which the module's forward must reproduce exactly.
    /// </summary>
    /// <exception cref="QuantizeRequestException">The training module's forward differs from the reference forward.</exception>
    public static QuantizeGradients Backward(QuantizeRequest request, QuantizationResult forward)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(forward);
        return QuantizeBackward.Run(request, forward);
    }

    private static void WriteResponse(Utf8JsonWriter w, QuantizeRequest request, QuantizationResult result, QuantizeGradients? gradients)
    {
        w.WriteStartObject();
        if (request.Name is not null) w.WriteString("name", request.Name);

        if (result is Po2QuantizationResult po2)
            WriteLongs(w, "exponents", po2.Exponents);
        else if (result is LsqResult lsqStep)
            WriteDoubles(w, "step", lsqStep.Step);

        w.WriteStartArray("codes");
        foreach (var c in ToDoubles(result.Codes))
            w.WriteNumberValue((long)c);

        w.WriteEndArray();
        WriteDoubles(w, "dequantized", result.Dequantized);
        WriteDoubles(w, "msqe", result.Msqe);
        if (result.WeightedMsqe is not null) WriteDoubles(w, "weighted_msqe", result.WeightedMsqe);

        w.WriteStartObject("intermediate");
        switch (result)
        {
            case LegacyAutoPo2Result legacy:
                WriteLongs(w, "init_exponents", legacy.InitExponents);
                w.WriteStartArray("iterate_exponents");
                for (var i = 0; i < legacy.IterateExponents.shape[0]; i++)
                {
                    using var row = legacy.IterateExponents[i];
                    WriteLongs(w, null, row);
                }

                w.WriteEndArray();
                WriteDoubles(w, "qkeras_scale_attribute", legacy.QkerasScaleAttribute);
                break;
            case MsqePo2Result msqe:
                WriteLongs(w, "init_exponents", msqe.InitExponents);
                WriteLongs(w, "lls_exponents", msqe.LlsExponents);
                WriteLongs(w, "line_search_exponents", msqe.LineSearchExponents);
                WriteMask(w, msqe.OutlierMask);
                break;
            case LearnablePo2Result learnable:
                WriteDoubles(w, "log2_scale", learnable.Log2Scale);
                WriteOptionalDoubles(w, "floor_msqe", learnable.FloorMsqe);
                WriteOptionalDoubles(w, "ceil_msqe", learnable.CeilMsqe);
                WriteMask(w, learnable.OutlierMask);
                break;
            case LsqResult lsq:
                w.WriteNumber("gradient_scale", lsq.GradientScale);
                break;
        }

        w.WriteEndObject();
        if (gradients is not null)
        {
            WriteFloats(w, "grad_input", gradients.GradInput);
            if (gradients.GradLog2Scale is not null) WriteFloats(w, "grad_log2_scale", gradients.GradLog2Scale);
            if (gradients.GradStep is not null) WriteFloats(w, "grad_step", gradients.GradStep);
        }

        w.WriteEndObject();
    }

    private static void WriteFloats(Utf8JsonWriter w, string name, float[] values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
            w.WriteNumberValue((double)v);

        w.WriteEndArray();
    }

    private static double[] ToDoubles(Tensor t)
    {
        using var d = t.to_type(ScalarType.Float64, copy: true).contiguous();
        return d.data<double>().ToArray();
    }

    private static void WriteDoubles(Utf8JsonWriter w, string? name, Tensor t)
    {
        if (name is null)
            w.WriteStartArray();
        else
            w.WriteStartArray(name);

        foreach (var v in ToDoubles(t))
            w.WriteNumberValue(v);

        w.WriteEndArray();
    }

    private static void WriteOptionalDoubles(Utf8JsonWriter w, string name, Tensor? t)
    {
        if (t is null)
            w.WriteNull(name);
        else
            WriteDoubles(w, name, t);
    }

    private static void WriteLongs(Utf8JsonWriter w, string? name, Tensor t)
    {
        if (name is null)
            w.WriteStartArray();
        else
            w.WriteStartArray(name);

        using var l = t.to_type(ScalarType.Int64, copy: true).contiguous();
        foreach (var v in l.data<long>().ToArray())
            w.WriteNumberValue(v);

        w.WriteEndArray();
    }

    private static void WriteMask(Utf8JsonWriter w, Tensor? mask)
    {
        if (mask is null)
            w.WriteNull("outlier_mask");
        else
            WriteLongs(w, "outlier_mask", mask);
    }
}
