using System.Runtime.InteropServices;
using Sweeper.Cli.Output;

namespace Sweeper.Cli.Running;

/// <summary>
/// SIGINT (Ctrl+C) and SIGTERM (<c>kill</c>, <c>docker stop</c>, systemd) for the commands that run a sweep or a
/// worker. The first one asks for a graceful stop: <see cref="Token"/> fires, the command stops its trials (at their
/// next step), writes its results and exits with <see cref="ExitCode"/>: 130 after SIGINT, 143 after SIGTERM. A second
/// one while that runs exits at once, with the code of that second signal. Nothing is left half-written by that: every
/// journal change is one SQLite transaction, and the results files are replaced atomically (written aside, then renamed).
/// </summary>
/// <remarks>
/// The generic host would otherwise take these signals (its <c>ConsoleLifetime</c> cancels SIGTERM and only asks the
/// application to stop, which nothing here waits on); <c>SweeperHosting.BuildHost</c> leaves them to this class.
/// </remarks>
public sealed class ShutdownSignals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly string _what;
    private readonly PosixSignalRegistration[] _registrations;
    private int _exitCode;

    private ShutdownSignals(string what)
    {
        _what = what;
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    /// <summary>Takes SIGINT and SIGTERM until disposed; <paramref name="what"/> names what stops (in the one line written on the first signal).</summary>
    public static ShutdownSignals Listen(string what) => new(what);

    /// <summary>Fires on the first SIGINT or SIGTERM.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Whether a signal asked this process to stop.</summary>
    public bool Requested => Volatile.Read(ref _exitCode) != 0;

    /// <summary>The exit code the first signal calls for (130 for SIGINT, 143 for SIGTERM); 0 when none came.</summary>
    public int ExitCode => Volatile.Read(ref _exitCode);

    private void Handle(PosixSignalContext context)
    {
        context.Cancel = true; // no default termination: this class decides
        var (name, code) = context.Signal == PosixSignal.SIGTERM ? ("SIGTERM", Errors.Terminated) : ("SIGINT", Errors.Interrupted);
        if (Interlocked.CompareExchange(ref _exitCode, code, 0) == 0)
        {
            Console.Error.WriteLine($"{name}: stopping {_what} (trials stop at their next step, results are written); send it again to exit at once");
            _stop.Cancel();
            return;
        }
        Console.Error.WriteLine($"{name} again: exiting at once; the journal holds every finished step (sweeper resume continues)");
        if (!Console.IsOutputRedirected) Console.Out.Write("\u001b[?25h"); // the live progress view hides the cursor
        Console.Out.Flush();
        Console.Error.Flush();
        Environment.Exit(code);
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _stop.Dispose();
    }
}
