using System.Text;

namespace Sweeper.Training.Trainables.Command;

/// <summary>
/// A program trainable's checkpoint file: a header, then the program's own checkpoint file, byte for byte.
/// <code>
/// magic        16 bytes  "sweeper-cmd-ckpt"
/// version      int32     1
/// epoch        int32     the epoch the program's file was saved after
/// state        byte      1: the program's file follows; 0: the program named no checkpoint (restart from scratch)
/// name         string    the program's file name (BinaryWriter: length-prefixed UTF-8); empty without state
/// length       int64     the program file's length in bytes
/// bytes        length    the program's file
/// </code>
/// All integers little-endian.
/// </summary>
internal static class CommandCheckpoint
{
    private static readonly byte[] Magic = "sweeper-cmd-ckpt"u8.ToArray();
    public const int Version = 1;
    private const int MaxNameBytes = 1024;

    /// <summary>The header of a checkpoint: its epoch and the program file's name (null: no program state).</summary>
    public sealed record Header(int Epoch, string? FileName, long Length);

    /// <summary>Writes a checkpoint of <paramref name="epoch"/> holding <paramref name="programFile"/> (null: none) to <paramref name="path"/>.</summary>
    public static void Write(string path, int epoch, string? programFile)
    {
        using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var writer = new BinaryWriter(output, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write(epoch);
        if (programFile is null)
        {
            writer.Write((byte)0);
            writer.Write("");
            writer.Write(0L);
            writer.Flush();
            return;
        }
        using var input = new FileStream(programFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        long length = input.Length;
        writer.Write((byte)1);
        writer.Write(Path.GetFileName(programFile));
        writer.Write(length);
        writer.Flush();
        CopyExactly(input, output, length, programFile);
        if (input.ReadByte() >= 0)
            throw new IOException($"the program's checkpoint '{programFile}' grew while it was copied (print its name only once it is complete)");
    }

    /// <summary>Copies <paramref name="length"/> bytes of <paramref name="input"/> to <paramref name="output"/> through a small buffer.</summary>
    public static void CopyExactly(Stream input, Stream output, long length, string source)
    {
        var buffer = new byte[1 << 16];
        for (long left = length; left > 0;)
        {
            int n = input.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0) throw new IOException($"'{source}' ended {left} bytes early (changed while it was copied, or cut short)");
            output.Write(buffer, 0, n);
            left -= n;
        }
    }

    /// <summary>Reads and checks the header of <paramref name="input"/>, leaving it at the program's bytes.</summary>
    /// <exception cref="InvalidDataException">Not a program trainable checkpoint, another version, or cut short.</exception>
    public static Header ReadHeader(Stream input, string path)
    {
        try
        {
            using var reader = new BinaryReader(input, Encoding.UTF8, leaveOpen: true);
            var magic = reader.ReadBytes(Magic.Length);
            if (!magic.AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException($"'{path}' is not a program trainable checkpoint (no '{Encoding.ASCII.GetString(Magic)}' header)");
            int version = reader.ReadInt32();
            if (version != Version)
                throw new InvalidDataException($"'{path}' is a program trainable checkpoint of format version {version}; this Sweeper reads version {Version}");
            int epoch = reader.ReadInt32();
            byte state = reader.ReadByte();
            string name = reader.ReadString();
            long length = reader.ReadInt64();
            if (epoch < 0 || state > 1 || length < 0 || Encoding.UTF8.GetByteCount(name) > MaxNameBytes
                || (state == 1 && (name.Length == 0 || name != Path.GetFileName(name) || name is "." or ".."))
                || (state == 0 && (name.Length != 0 || length != 0)))
                throw new InvalidDataException($"'{path}' has a damaged program trainable checkpoint header");
            if (input.CanSeek && input.Length - input.Position != length)
                throw new InvalidDataException($"'{path}' holds {input.Length - input.Position} bytes of the program's checkpoint; its header says {length} (cut short or damaged)");
            return new Header(epoch, state == 1 ? name : null, length);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"'{path}' is cut short: its program trainable checkpoint header is incomplete");
        }
    }
}
