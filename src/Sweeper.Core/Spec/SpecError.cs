namespace Sweeper.Core.Spec;

/// <summary>One problem in a spec: where it is, which key, and what was found against what was expected.</summary>
public sealed record SpecError(string File, SourceLocation Location, string KeyPath, string Message)
{
    public override string ToString() =>
        KeyPath.Length == 0 ? $"{File}:{Location}: {Message}" : $"{File}:{Location}: {KeyPath}: {Message}";
}

/// <summary>Thrown when a spec has one or more problems; <see cref="Errors"/> lists them all, in file order.</summary>
public sealed class SpecException : Exception
{
    public SpecException(IReadOnlyList<SpecError> errors)
        : base(string.Join(Environment.NewLine, errors.Select(e => e.ToString())))
    {
        Errors = errors;
    }

    public IReadOnlyList<SpecError> Errors { get; }
}
