using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Sweeper.Core.Stability;
using Sweeper.Core.Trials;

namespace Sweeper.Training.Trainables.Command;

/// <summary>
/// Any program as a trial (<c>trainable.command</c>). The program is started on the first <see cref="RunEpoch"/> (after
/// a possible <see cref="LoadCheckpoint"/>) and runs across all epochs; it reports on stdout with JSON lines
/// (<see cref="CommandProtocol"/>): <see cref="RunEpoch"/>(e) passes its step lines to the step observer and returns the
/// metrics of its epoch-e line. Its settings arrive as arguments (<see cref="CommandArguments"/>) and environment
/// variables (<see cref="CommandEnvironment"/>).
/// <para>
/// Process lifetime: the program runs in its own process group (started through <c>setsid</c>); cancellation,
/// <see cref="Dispose"/> and any failure send SIGTERM to the whole group, then SIGKILL after
/// <see cref="Core.Spec.CommandSpec.KillGrace"/>. After the last epoch the program may exit on its own (any code; a
/// non-zero one is noted in the log) within the grace. Exiting before the current epoch's line is a crash
/// (<see cref="ProgramFailedException"/>); a malformed protocol line is an <see cref="InvalidDataException"/>.
/// Its stderr and non-JSON stdout are appended to <see cref="TrialContext.LogPath"/>, under a header per attempt.
/// </para>
/// <para>
/// Checkpoints: the program writes its checkpoint of epoch e into <c>SWEEPER_CHECKPOINT_DIR</c> and names it on the
/// epoch-e line (<c>"checkpoint": "ckpt_3.pt"</c>), complete and never changed afterwards (a new name per epoch, or a
/// replacement by rename). <see cref="SaveCheckpoint"/> copies it behind a header (<see cref="CommandCheckpoint"/>); once a
/// later epoch line names another file, Sweeper deletes the earlier one from that folder (the sweep keeps its own copies).
/// <see cref="LoadCheckpoint"/> puts the program's file back into the attempt folder and the program is started with
/// <c>SWEEPER_RESUME_CHECKPOINT</c> and <c>SWEEPER_RESUME_EPOCH</c>; its first epoch line must be the next epoch.
/// An epoch line without a checkpoint still gets a (header-only) checkpoint: loading it returns epoch 0, so a restart
/// starts the program from scratch, as a program that cannot resume expects; the log says so.
/// </para>
/// One thread calls every member (the trial's), as <see cref="ITrainable"/> requires.
/// </summary>
public sealed class CommandTrainable : ITrainable, ICheckpointable, IReportsSteps
{
    /// <summary>How many of the program's last stderr lines a crash message quotes.</summary>
    public const int StderrTailLines = 20;

    /// <summary>Where <c>setsid</c> (util-linux) is looked for, in order, before the PATH.</summary>
    public static readonly IReadOnlyList<string> SetsidCandidates = ["/usr/bin/setsid", "/bin/setsid"];

    /// <summary>How long to wait for a program that closed its stdout to exit, and for the reader threads to end.</summary>
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReaderWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan KilledWait = TimeSpan.FromSeconds(5);
    private const int StderrLineChars = 2000;
    private const int QueueCapacity = 4096;

    private readonly TrialConfig _config;
    private readonly TrialContext _context;
    private readonly object _logLock = new();
    private readonly Queue<string> _stderrTail = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly BlockingCollection<OutputEvent> _events = new(QueueCapacity);

    private Process? _process;
    private int _pid;
    private Thread? _stdoutThread, _stderrThread;
    private StreamWriter? _log;
    private volatile bool _discard;
    private bool _disposed, _noCheckpointNoted, _groupGone;
    private Exception? _failure;
    private Action<StepObservation>? _observer;

    private int _resumeEpoch;
    private string? _resumeFile;
    private int _lastEpoch;
    private string? _lastCheckpoint;
    private long _lastEpochTimestamp;
    private long? _lastStep;

    /// <summary>Prepares the program of <paramref name="config"/>'s <c>trainable.command</c>; nothing starts until <see cref="RunEpoch"/>.</summary>
    /// <exception cref="ArgumentException">No command, an empty one, or a placeholder naming an unknown key.</exception>
    public CommandTrainable(TrialConfig config, TrialContext context)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(context);
        var command = config.Trainable.Command ?? throw new ArgumentException($"trial {config.Id}: trainable.command is not set", nameof(config));
        if (command.Argv.Count == 0 || string.IsNullOrWhiteSpace(command.Argv[0]))
            throw new ArgumentException($"trial {config.Id}: trainable.command names no program", nameof(config));
        if (config.Trainable.Epochs < 1)
            throw new ArgumentException($"trial {config.Id}: trainable.epochs is {config.Trainable.Epochs}; a program trainable runs at least one epoch", nameof(config));
        _config = config;
        _context = context;
        Arguments = CommandArguments.For(config);
        Args = CommandArguments.EffectiveArgs(config);
        ProgramName = NameOf(Arguments);
        KillGrace = command.KillGrace < TimeSpan.Zero ? TimeSpan.Zero : command.KillGrace;
        WorkingDirectory = command.WorkingDirectory;
    }

    /// <inheritdoc/>
    public int TotalEpochs => _config.Trainable.Epochs;

    /// <summary>The program and its arguments, placeholders replaced.</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>The trial's free-form settings (<c>trainable.args</c> with swept values applied), keys without the prefix.</summary>
    public IReadOnlyList<KeyValuePair<string, object>> Args { get; }

    /// <summary>How error messages name the program: its file name (and, for an interpreter, the script's).</summary>
    public string ProgramName { get; }

    /// <summary>After SIGTERM to the program's group, how long before SIGKILL.</summary>
    public TimeSpan KillGrace { get; }

    /// <summary>The program's working directory.</summary>
    public string WorkingDirectory { get; }

    /// <summary>The folder the program writes its checkpoints into (<c>SWEEPER_CHECKPOINT_DIR</c>).</summary>
    public string CheckpointFolder => Path.Combine(_context.AttemptFolder, "checkpoints");

    /// <summary>The JSON file of the trial's settings (<c>SWEEPER_PARAMS</c>).</summary>
    public string ParametersFile => Path.Combine(_context.AttemptFolder, "params.json");

    /// <summary>The folder a loaded checkpoint's program file is put back into.</summary>
    public string ResumeFolder => Path.Combine(_context.AttemptFolder, "resume");

    /// <summary>The program's process id (also its process group's id), once started; else null.</summary>
    public int? ProcessId => _process is null ? null : _pid;

    /// <summary>Sets the observer of the program's step lines; it is called on the thread that calls <see cref="RunEpoch"/>.</summary>
    public void ObserveSteps(Action<StepObservation>? observer) => _observer = observer;

    /// <summary>
    /// Starts the program if it does not run yet, passes its step lines to the observer, and returns the metrics of its
    /// epoch-<paramref name="epoch"/> line.
    /// </summary>
    /// <exception cref="InvalidDataException">A malformed protocol line, a wrong epoch, or a checkpoint named but missing.</exception>
    /// <exception cref="ProgramFailedException">The program ended before reporting the epoch.</exception>
    /// <exception cref="OperationCanceledException">Cancelled: the program's process group has been stopped.</exception>
    public EpochResult RunEpoch(int epoch, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_failure is not null)
            throw new InvalidOperationException($"{ProgramName} has already failed or been stopped ({_failure.Message})", _failure);
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(epoch, TotalEpochs);
        if (epoch != _lastEpoch + 1)
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"{ProgramName} runs its epochs in order: the next one is {_lastEpoch + 1}");
        cancellationToken.ThrowIfCancellationRequested();
        if (_process is null) Start();

        while (true)
        {
            OutputEvent next;
            try
            {
                next = _events.Take(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                throw Cancelled(cancellationToken);
            }
            switch (next)
            {
                case ParsedLine { Parsed: StepLine step } line:
                    if (_lastStep is { } last && step.Observation.Step <= last)
                        throw Fail(ProtocolError(line.Number, line.Text, $"step {step.Observation.Step} does not come after step {last}"));
                    _lastStep = step.Observation.Step;
                    _observer?.Invoke(step.Observation);
                    if (cancellationToken.IsCancellationRequested) throw Cancelled(cancellationToken);
                    break;
                case ParsedLine { Parsed: EpochLine reported } line:
                    return Epoch(epoch, reported, line);
                case BadLine bad:
                    throw Fail(ProtocolError(bad.Number, bad.Text, bad.Problem));
                case EndOfOutput end:
                    throw Fail(Ended(epoch, end.Lines));
            }
        }
    }

    private EpochResult Epoch(int epoch, EpochLine reported, ParsedLine line)
    {
        if (reported.Epoch != epoch)
        {
            string why = _lastEpoch == _resumeEpoch && _resumeEpoch > 0
                ? $" (it was resumed after epoch {_resumeEpoch}: {CommandEnvironment.ResumeEpoch}={_resumeEpoch}, so its first epoch line must be epoch {_resumeEpoch + 1})"
                : "";
            throw Fail(ProtocolError(line.Number, line.Text, $"epoch {reported.Epoch} where epoch {epoch} was expected{why}"));
        }
        string? checkpoint = null;
        if (reported.Checkpoint is { } named)
        {
            checkpoint = Path.GetFullPath(Path.IsPathRooted(named) ? named : Path.Combine(CheckpointFolder, named));
            if (!File.Exists(checkpoint))
                throw Fail(ProtocolError(line.Number, line.Text, $"checkpoint '{named}' does not exist (looked for '{checkpoint}'; write it completely before printing its name)"));
        }
        // Sweeper has saved (or skipped) the earlier epoch's checkpoint by now: free the program's own copy.
        if (_lastCheckpoint is { } previous && previous != checkpoint && IsInside(previous, CheckpointFolder))
        {
            try { File.Delete(previous); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { Log($"sweeper: cannot delete the earlier checkpoint '{previous}': {e.Message}"); }
        }
        _lastCheckpoint = checkpoint;
        _lastEpoch = epoch;
        var duration = Stopwatch.GetElapsedTime(_lastEpochTimestamp, line.Timestamp);
        _lastEpochTimestamp = line.Timestamp;
        return new EpochResult(epoch, reported.Metrics, duration < TimeSpan.Zero ? TimeSpan.Zero : duration);
    }

    /// <summary>
    /// Writes the state after <paramref name="epoch"/>: the program's checkpoint named on that epoch's line, behind a
    /// header (or the header alone when the line named none). Only the newest reported epoch (or, before any, the loaded
    /// one) can be saved: the program's earlier files are gone.
    /// </summary>
    public void SaveCheckpoint(string path, int epoch)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (epoch != _lastEpoch)
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"{ProgramName}: cannot save a checkpoint of epoch {epoch}: the newest epoch reported is {_lastEpoch} (only its checkpoint is kept)"));
        string? source = _lastEpoch > _resumeEpoch ? _lastCheckpoint : _resumeFile;
        if (source is null && epoch > 0 && !_noCheckpointNoted)
        {
            _noCheckpointNoted = true;
            Log($"sweeper: {ProgramName} named no checkpoint on its epoch {epoch} line: a restart of this trial starts it from scratch " +
                $"(print \"checkpoint\": \"<file in {CommandEnvironment.CheckpointDir}>\" on each epoch line to resume instead)");
        }
        CommandCheckpoint.Write(path, epoch, source);
    }

    /// <summary>
    /// Checks a checkpoint written by <see cref="SaveCheckpoint"/>, puts the program's file into <see cref="ResumeFolder"/>
    /// and returns its epoch (0 for a checkpoint without program state: the program starts from scratch). Call before the
    /// first <see cref="RunEpoch"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">Not such a checkpoint, cut short, or of an epoch beyond the trial's.</exception>
    public int LoadCheckpoint(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_process is not null) throw new InvalidOperationException($"{ProgramName} is already running: load a checkpoint before the first epoch");
        using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var header = CommandCheckpoint.ReadHeader(input, path);
        if (header.Epoch > TotalEpochs)
            throw new InvalidDataException($"'{path}' was saved after epoch {header.Epoch}, but trial {_config.Id} runs {TotalEpochs} epochs");
        if (header.FileName is null)
        {
            (_resumeEpoch, _resumeFile, _lastEpoch) = (0, null, 0);
            return 0;
        }
        string target = Path.Combine(ResumeFolder, header.FileName);
        AtomicFile.Write(target, temp =>
        {
            using var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            CommandCheckpoint.CopyExactly(input, output, header.Length, path);
        });
        (_resumeEpoch, _resumeFile, _lastEpoch) = (header.Epoch, target, header.Epoch);
        return header.Epoch;
    }

    /// <summary>
    /// Stops the program's process group (after the last epoch, first giving the program <see cref="KillGrace"/> to exit
    /// on its own). Every wait is bounded.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            if (_process is null) return;
            if (_failure is null && _lastEpoch >= TotalEpochs && !_process.WaitForExit(KillGrace))
                Log($"sweeper: {ProgramName} still runs {KillGrace.TotalSeconds:0.###} s after its last epoch");
            Stop("the trial's attempt ended");
            _shutdown.Cancel();
            bool joined = (_stdoutThread?.Join(ReaderWait) ?? true) & (_stderrThread?.Join(ReaderWait) ?? true);
            if (_process.HasExited)
            {
                int code = _process.ExitCode;
                Log($"sweeper: {ProgramName} exited with code {code}{SignalHint(code)}" +
                    (code != 0 && _failure is null && _lastEpoch >= TotalEpochs ? " after reporting its last epoch (its results stand)" : ""));
            }
            if (joined) _events.Dispose();
            _process.Dispose();
        }
        finally
        {
            lock (_logLock)
            {
                _log?.Dispose();
                _log = null;
            }
            _shutdown.Dispose();
        }
    }

    private void Start()
    {
        Directory.CreateDirectory(_context.AttemptFolder);
        Directory.CreateDirectory(CheckpointFolder);
        if (!Directory.Exists(WorkingDirectory))
            throw Fail(new DirectoryNotFoundException($"{ProgramName}: the working directory '{WorkingDirectory}' (trainable.command's working_directory) does not exist"));
        WriteParameters();
        OpenLog();

        var start = new ProcessStartInfo(Setsid())
        {
            WorkingDirectory = WorkingDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // setsid execs the program in place (the caller is no group leader): the program's pid is its new group's id.
        start.ArgumentList.Add("--wait");
        start.ArgumentList.Add("--");
        foreach (var a in Arguments) start.ArgumentList.Add(a);
        foreach (var (name, value) in ProgramEnvironment()) start.Environment[name] = value;

        var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            process.Dispose();
            throw Fail(new InvalidOperationException($"cannot start {ProgramName} ({string.Join(' ', Arguments)}) in '{WorkingDirectory}': {e.Message}", e));
        }
        _process = process;
        _pid = process.Id;
        _lastEpoch = _resumeEpoch;
        _lastEpochTimestamp = Stopwatch.GetTimestamp();
        Log($"sweeper: started {ProgramName} as process {_pid} (its own process group)");
        try { process.StandardInput.Close(); }
        catch (IOException) { } // already gone: its output says why

        _stdoutThread = new Thread(() => ReadStdout(process.StandardOutput.BaseStream)) { IsBackground = true, Name = $"sweeper-{_config.Id}-stdout" };
        _stderrThread = new Thread(() => ReadStderr(process.StandardError.BaseStream)) { IsBackground = true, Name = $"sweeper-{_config.Id}-stderr" };
        _stdoutThread.Start();
        _stderrThread.Start();
    }

    private IEnumerable<(string Name, string Value)> ProgramEnvironment()
    {
        var inv = CultureInfo.InvariantCulture;
        yield return (CommandEnvironment.TrialId, _config.Id.ToString());
        yield return (CommandEnvironment.Seed, _config.Seed.ToString(inv));
        yield return (CommandEnvironment.Epochs, TotalEpochs.ToString(inv));
        yield return (CommandEnvironment.Attempt, _context.Assignment.ToString(inv));
        yield return (CommandEnvironment.Params, ParametersFile);
        yield return (CommandEnvironment.WorkDir, _context.AttemptFolder);
        yield return (CommandEnvironment.CheckpointDir, CheckpointFolder);
        foreach (var (key, value) in Args)
            yield return (CommandEnvironment.ArgVariable(key), Core.Spec.TrainableArgs.Text(value));
        if (_resumeFile is not null)
        {
            yield return (CommandEnvironment.ResumeCheckpoint, _resumeFile);
            yield return (CommandEnvironment.ResumeEpoch, _resumeEpoch.ToString(inv));
        }
        // Python buffers a piped stdout: without this, epoch lines would arrive only when its buffer fills.
        if (Environment.GetEnvironmentVariable("PYTHONUNBUFFERED") is null) yield return ("PYTHONUNBUFFERED", "1");
    }

    private void WriteParameters()
    {
        using var stream = new FileStream(ParametersFile, FileMode.Create, FileAccess.Write, FileShare.Read);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("trial_id", _config.Id.ToString());
        json.WriteNumber("seed", _config.Seed);
        json.WriteNumber("epochs", TotalEpochs);
        json.WriteStartObject("parameters");
        foreach (var (key, value) in CommandArguments.CurrentParameters(_config)) WriteValue(json, key, value);
        json.WriteEndObject();
        json.WriteStartObject("args");
        foreach (var (key, value) in Args) WriteValue(json, key, value);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter json, string key, object? value)
    {
        switch (value)
        {
            case null: json.WriteNull(key); break;
            case bool b: json.WriteBoolean(key, b); break;
            case long l: json.WriteNumber(key, l); break;
            case int i: json.WriteNumber(key, i); break;
            case double d when double.IsFinite(d): json.WriteNumber(key, d); break;
            default: json.WriteString(key, Core.Spec.TrainableArgs.Text(value)); break;
        }
    }

    private void OpenLog()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_context.LogPath))!);
        var stream = new FileStream(_context.LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        lock (_logLock)
        {
            _log = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true };
            _log.WriteLine();
            _log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"==== sweeper: trial {_config.Id}, assignment {_context.Assignment}, {DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ}: {string.Join(' ', Arguments)} (in {WorkingDirectory})" +
                $"{(_resumeFile is null ? "" : $", resuming after epoch {_resumeEpoch}")} ===="));
        }
    }

    private void Log(string line)
    {
        lock (_logLock)
        {
            try { _log?.WriteLine(line); }
            catch (IOException) { } // a full disk must not turn the program's output into a crash
        }
    }

    private void ReadStdout(Stream stdout)
    {
        var reader = new LineReader(stdout, CommandProtocol.MaxLineBytes);
        int number = 0;
        try
        {
            while (true)
            {
                var kind = reader.Read(out string text);
                if (kind == LineReader.LineKind.End) break;
                number++;
                long timestamp = Stopwatch.GetTimestamp();
                if (kind == LineReader.LineKind.TooLong)
                {
                    Post(new BadLine(number, "", $"the line is longer than {CommandProtocol.MaxLineBytes} bytes"));
                    continue;
                }
                if (!CommandProtocol.IsProtocolLine(text))
                {
                    Log(text);
                    continue;
                }
                ProtocolLine parsed;
                try
                {
                    parsed = CommandProtocol.Parse(text);
                }
                catch (FormatException e)
                {
                    Post(new BadLine(number, text, e.Message));
                    continue;
                }
                Post(new ParsedLine(number, text, parsed, timestamp));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The pipe closed under us: the trainable is being stopped.
        }
        Post(new EndOfOutput(number));
    }

    private void Post(OutputEvent e)
    {
        if (_discard) return;
        try
        {
            _events.Add(e, _shutdown.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            _discard = true;
        }
    }

    private void ReadStderr(Stream stderr)
    {
        var reader = new LineReader(stderr, CommandProtocol.MaxLineBytes);
        try
        {
            while (true)
            {
                var kind = reader.Read(out string text);
                if (kind == LineReader.LineKind.End) return;
                if (kind == LineReader.LineKind.TooLong) text = $"sweeper: (a stderr line longer than {CommandProtocol.MaxLineBytes} bytes was left out)";
                Log(text);
                lock (_stderrTail)
                {
                    _stderrTail.Enqueue(text.Length <= StderrLineChars ? text : text[..StderrLineChars] + "…");
                    while (_stderrTail.Count > StderrTailLines) _stderrTail.Dequeue();
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The pipe closed under us: the trainable is being stopped.
        }
    }

    /// <summary>
    /// SIGTERM to the program's process group, then SIGKILL after <see cref="KillGrace"/>; returns once no member is
    /// alive or the bounded waits ran out.
    /// </summary>
    private void Stop(string reason)
    {
        if (_process is null) return;
        _discard = true;
        if (!Alive()) return;
        Log($"sweeper: stopping {ProgramName} ({reason}): SIGTERM to process group {_pid}");
        Signal(ProcessGroup.SigTerm);
        if (!WaitGone(KillGrace))
        {
            Log($"sweeper: {ProgramName} still runs {KillGrace.TotalSeconds:0.###} s after SIGTERM: SIGKILL to process group {_pid}");
            Signal(ProcessGroup.SigKill);
            if (!WaitGone(KilledWait)) Log($"sweeper: process group {_pid} still has live members {KilledWait.TotalSeconds:0} s after SIGKILL");
        }
        _process.WaitForExit(KilledWait);
    }

    private void Signal(int signal)
    {
        int errno = ProcessGroup.Signal(_pid, signal);
        // No group yet (setsid has not made it): the program alone, while it is surely ours (not yet reaped).
        if (errno == ProcessGroup.Esrch && !_process!.HasExited) errno = ProcessGroup.SignalProcess(_pid, signal) ? 0 : errno;
        if (errno is not (0 or ProcessGroup.Esrch)) Log($"sweeper: kill(-{_pid}, {signal}) failed with errno {errno}");
    }

    /// <summary>
    /// Whether the program or a process of its group runs. Once all are gone, never again: the group's id could then be
    /// reused by another process group, which must never be signalled.
    /// </summary>
    private bool Alive()
    {
        if (_groupGone) return false;
        if (!_process!.HasExited || ProcessGroup.HasLiveMembers(_pid)) return true;
        _groupGone = true;
        return false;
    }

    private bool WaitGone(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (!Alive()) return true;
            if (clock.Elapsed >= timeout) return false;
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Clamp((timeout - clock.Elapsed).TotalMilliseconds, 1, 25)));
        }
    }

    private OperationCanceledException Cancelled(CancellationToken token)
    {
        var cancelled = new OperationCanceledException($"{ProgramName} was stopped: its trial was cancelled", token);
        _failure = cancelled;
        Stop("cancelled");
        return cancelled;
    }

    private Exception Fail(Exception error)
    {
        _failure = error;
        Stop("it failed");
        Log($"sweeper: {error.Message}");
        return error;
    }

    private InvalidDataException ProtocolError(int line, string text, string problem) => new(string.Create(CultureInfo.InvariantCulture,
        $"{ProgramName}: stdout line {line}: {problem}{(text.Length == 0 ? "" : ": " + CommandProtocol.Quote(text))}"));

    private ProgramFailedException Ended(int epoch, int lines)
    {
        var process = _process!;
        bool exited = process.WaitForExit(ExitWait);
        int? code = exited ? process.ExitCode : null;
        Stop("its stdout closed"); // it, if it still runs, and any orphans it left behind
        _stderrThread?.Join(ReaderWait);
        string[] tail;
        lock (_stderrTail) tail = [.. _stderrTail];
        var inv = CultureInfo.InvariantCulture;
        var message = new StringBuilder(code is { } c
            ? string.Create(inv, $"{ProgramName} exited with code {c}{SignalHint(c)} before reporting epoch {epoch} of {TotalEpochs}")
            : string.Create(inv, $"{ProgramName} closed its stdout before reporting epoch {epoch} of {TotalEpochs}, and had not exited {ExitWait.TotalSeconds:0} s later"));
        message.Append(string.Create(CultureInfo.InvariantCulture, $" ({lines} stdout lines). "));
        if (tail.Length == 0) message.Append("Its stderr was empty.");
        else message.Append(string.Create(CultureInfo.InvariantCulture, $"Last {tail.Length} lines of its stderr:")).Append('\n').AppendJoin('\n', tail);
        return new ProgramFailedException(message.ToString(), code, tail);
    }

    private static string SignalHint(int code) => code > 128 && code < 128 + 65
        ? string.Create(CultureInfo.InvariantCulture, $" (killed by signal {code - 128})")
        : "";

    private static bool IsInside(string file, string folder)
    {
        var relative = Path.GetRelativePath(Path.GetFullPath(folder), Path.GetFullPath(file));
        return relative != "." && !relative.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(relative);
    }

    private static string Setsid()
    {
        foreach (var candidate in SetsidCandidates)
            if (File.Exists(candidate)) return candidate;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, "setsid"))) return Path.Combine(dir, "setsid");
        throw new InvalidOperationException("a program trainable needs setsid (util-linux) to run the program in its own process group; none found in /usr/bin, /bin or the PATH");
    }

    private static readonly string[] Interpreters = ["python", "bash", "sh", "dash", "zsh", "node", "ruby", "perl", "rscript", "julia", "dotnet", "uv", "java", "env"];

    /// <summary>The program's file name, followed by the script's for an interpreter (<c>python3 train.py</c>).</summary>
    internal static string NameOf(IReadOnlyList<string> argv)
    {
        string program = Path.GetFileName(argv[0]);
        string lower = program.ToLowerInvariant();
        if (!Interpreters.Any(i => lower == i || lower.StartsWith(i, StringComparison.Ordinal) && lower[i.Length..].All(ch => char.IsAsciiDigit(ch) || ch == '.')))
            return program;
        var script = argv.Skip(1).FirstOrDefault(a => !a.StartsWith('-'));
        return script is null ? program : $"{program} {Path.GetFileName(script)}";
    }

    private abstract record OutputEvent;

    private sealed record ParsedLine(int Number, string Text, ProtocolLine Parsed, long Timestamp) : OutputEvent;

    private sealed record BadLine(int Number, string Text, string Problem) : OutputEvent;

    private sealed record EndOfOutput(int Lines) : OutputEvent;
}
