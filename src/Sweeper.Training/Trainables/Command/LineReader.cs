using System.Text;

namespace Sweeper.Training.Trainables.Command;

/// <summary>
/// Reads UTF-8 lines from a pipe without ever holding more than <see cref="MaxBytes"/> of one line: a longer line is
/// skipped up to its end and reported as <see cref="LineKind.TooLong"/> (so a program printing a huge line cannot
/// exhaust memory).
/// </summary>
internal sealed class LineReader(Stream stream, int maxBytes)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start, _end;
    private byte[] _line = new byte[4096];
    private int _length;

    public int MaxBytes { get; } = maxBytes;

    public enum LineKind { Line, TooLong, End }

    /// <summary>The next line without its <c>\n</c> (or <c>\r\n</c>); at the end of the stream, a last unterminated line first.</summary>
    public LineKind Read(out string line)
    {
        _length = 0;
        bool tooLong = false;
        while (true)
        {
            if (_start == _end)
            {
                _start = 0;
                _end = stream.Read(_buffer, 0, _buffer.Length);
                if (_end == 0)
                {
                    if (tooLong) { line = ""; return LineKind.TooLong; }
                    if (_length == 0) { line = ""; return LineKind.End; }
                    line = Decode();
                    return LineKind.Line;
                }
            }
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            int chunkEnd = newline < 0 ? _end : newline;
            if (!tooLong)
            {
                int count = chunkEnd - _start;
                if (_length + count > MaxBytes) tooLong = true;
                else Append(_buffer.AsSpan(_start, count));
            }
            if (newline >= 0)
            {
                _start = newline + 1;
                if (tooLong) { line = ""; return LineKind.TooLong; }
                line = Decode();
                return LineKind.Line;
            }
            _start = _end;
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_length + bytes.Length > _line.Length)
            Array.Resize(ref _line, Math.Min(Math.Max(_line.Length * 2, _length + bytes.Length), MaxBytes));
        bytes.CopyTo(_line.AsSpan(_length));
        _length += bytes.Length;
    }

    private string Decode()
    {
        int length = _length > 0 && _line[_length - 1] == '\r' ? _length - 1 : _length;
        return Encoding.UTF8.GetString(_line, 0, length);
    }
}
