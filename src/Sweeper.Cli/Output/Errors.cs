using Spectre.Console;
using Sweeper.Core.Spec;

namespace Sweeper.Cli.Output;

/// <summary>Exit codes and error output: plain lines on standard error, never a stack trace.</summary>
public static class Errors
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int InvalidInput = 2;
    /// <summary>128 + SIGINT: stopped with Ctrl+C, or by <c>sweeper stop</c> (the exit code of the sweep's own process).</summary>
    public const int Interrupted = 130;

    /// <summary>128 + SIGTERM: stopped by <c>kill</c>, <c>docker stop</c>, systemd.</summary>
    public const int Terminated = 143;

    public static int Report(SpecException ex)
    {
        var err = Console.Error;
        foreach (var e in ex.Errors) err.WriteLine("error: " + e);
        err.WriteLine($"{ex.Errors.Count} problem(s) in the spec; nothing was run or written.");
        return InvalidInput;
    }

    /// <summary>Writes the spec's warnings to standard error, one line each (<c>warning: file:line:col: key: message</c>).</summary>
    public static void Warn(SweepSpec spec)
    {
        foreach (var w in spec.Warnings) Console.Error.WriteLine("warning: " + w);
    }

    public static int Report(string message, int code = Failed)
    {
        Console.Error.WriteLine("error: " + message);
        return code;
    }
}
