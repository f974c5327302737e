namespace Sweeper.Training.Trainables.Command;

/// <summary>A program trainable ended before reporting its epoch (a crash): its exit code and the last lines of its stderr.</summary>
public sealed class ProgramFailedException : Exception
{
    /// <summary>A crash described by <paramref name="message"/>, with the program's exit code (null: still running) and last stderr lines.</summary>
    public ProgramFailedException(string message, int? exitCode, IReadOnlyList<string> stderrTail) : base(message)
    {
        ExitCode = exitCode;
        StderrTail = stderrTail;
    }

    /// <summary>The exit code (128 + N for a program killed by signal N), or null when the program had not exited.</summary>
    public int? ExitCode { get; }

    /// <summary>The last lines the program wrote to stderr (at most <see cref="CommandTrainable.StderrTailLines"/>).</summary>
    public IReadOnlyList<string> StderrTail { get; }
}
