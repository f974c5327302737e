namespace Sweeper.Quantization.Service;

/// <summary>
/// A request for <see cref="QuantizeService"/> is malformed or invalid. <see cref="Exception.Message"/>
/// is meant for the user: it names the request (index, and name when the request has one) and the
/// offending field, and lists the valid choices where there is a fixed set.
/// </summary>
public sealed class QuantizeRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QuantizeRequestException(string message, int? requestIndex = null, string? requestName = null, long? line = null, long? position = null, Exception? inner = null)
        : base(message, inner)
    {
        RequestIndex = requestIndex;
        RequestName = requestName;
        Line = line;
        Position = position;
    }

    /// <summary>Zero-based index of the request in the input (0 for a single object); null for whole-document errors.</summary>
    public int? RequestIndex { get; }

    /// <summary>The request's <c>name</c>, when it has one.</summary>
    public string? RequestName { get; }

    /// <summary>One-based line of a JSON syntax error.</summary>
    public long? Line { get; }

    /// <summary>One-based byte position in the line of a JSON syntax error.</summary>
    public long? Position { get; }
}
