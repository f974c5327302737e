using Sweeper.Core.Spec;
using Sweeper.Core.Model;

namespace Sweeper.Training.Trainables;

/// <summary>
/// The header of a <see cref="TorchTrainable"/> checkpoint: what the model and optimizer state that follow belong to.
/// Version 2 adds the input shape and the quantizer's structure (what decides the quantizer state's layout). Version 3:
/// msqe_po2 always holds its stable-exponent state, so stable_scale is no longer part of the structure (a run restarted
/// with the stable scale loads the checkpoint of a run without it).
/// </summary>
internal sealed record CheckpointHeader(
    string Model,
    double Width,
    int InputChannels,
    int InputSize,
    int Classes,
    string Optimizer,
    string Quantizer,
    long ShuffleSeed,
    int CompletedEpochs,
    int StepsPerEpoch)
{
    public const string Magic = "sweeper.torch-trainable.checkpoint";
    public const int Version = 3;

    /// <summary>
    /// The quantizer settings that decide which state the model holds and how its weights are formed (the BN folding
    /// recipe too: a checkpoint of one recipe is refused by the other; BN's ε and momentum differ between them).
    /// </summary>
    public static string DescribeQuantizer(QuantizerSpec q) => q.Method == QuantizerMethod.None.Word()
        ? $"none bn_fold={q.BnFold}"
        : $"{q.Method} bits={q.Bits} per_channel={q.PerChannel} depthwise_per_channel={q.DepthwisePerChannel} quantize_first_last={q.QuantizeFirstLast} bn_fold={q.BnFold} " +
          $"second_moments={q.SecondMoments}";

    public void Write(BinaryWriter writer)
    {
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write(Model);
        writer.Write(Width);
        writer.Write(InputChannels);
        writer.Write(InputSize);
        writer.Write(Classes);
        writer.Write(Optimizer);
        writer.Write(Quantizer);
        writer.Write(ShuffleSeed);
        writer.Write(CompletedEpochs);
        writer.Write(StepsPerEpoch);
    }

    /// <exception cref="InvalidDataException">Not a checkpoint, or another format version.</exception>
    public static CheckpointHeader Read(BinaryReader reader, string path)
    {
        string magic;
        try
        {
            magic = reader.ReadString();
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException)
        {
            throw new InvalidDataException($"'{path}' is not a Sweeper checkpoint.", e);
        }
        if (magic != Magic) throw new InvalidDataException($"'{path}' is not a Sweeper checkpoint.");
        int version = reader.ReadInt32();
        if (version != Version)
            throw new InvalidDataException($"Checkpoint '{path}' has format version {version}; this version reads {Version}.");
        return new CheckpointHeader(
            Model: reader.ReadString(),
            Width: reader.ReadDouble(),
            InputChannels: reader.ReadInt32(),
            InputSize: reader.ReadInt32(),
            Classes: reader.ReadInt32(),
            Optimizer: reader.ReadString(),
            Quantizer: reader.ReadString(),
            ShuffleSeed: reader.ReadInt64(),
            CompletedEpochs: reader.ReadInt32(),
            StepsPerEpoch: reader.ReadInt32());
    }

    /// <summary>Throws unless the checkpoint was saved by a trainable of this model, input, quantizer and (optionally) optimizer.</summary>
    /// <exception cref="InvalidDataException">The first mismatch, naming the file.</exception>
    public void ExpectCompatible(string path, TrainableSpec spec, int classes, bool checkOptimizer)
    {
        Expect(path, "model", Model, spec.Model);
        Expect(path, "width", Width, spec.Width);
        if (spec.InputChannels is { } channels) Expect(path, "input channels", InputChannels, channels);
        if (spec.InputSize is { } size) Expect(path, "input size", InputSize, size);
        Expect(path, "classes", Classes, classes);
        if (checkOptimizer) Expect(path, "optimizer", Optimizer, spec.Optimizer.Name);
        Expect(path, "quantizer", Quantizer, DescribeQuantizer(spec.Quantizer));
    }

    private static void Expect<T>(string path, string what, T actual, T expected)
    {
        if (!EqualityComparer<T>.Default.Equals(actual, expected))
            throw new InvalidDataException($"Checkpoint '{path}' is for {what} {actual}, but this trial has {expected}.");
    }
}
