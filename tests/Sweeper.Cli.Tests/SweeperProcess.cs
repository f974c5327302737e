using System.Diagnostics;

namespace Sweeper.Cli.Tests;

/// <summary>Runs the real <c>sweeper</c> program (the built sweeper.dll) as a child process.</summary>
public static class SweeperProcess
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    /// <summary>Starts sweeper in the background; its output is collected line by line.</summary>
    public static Running Start(string workingDirectory, params string[] args) => Start(workingDirectory, new Dictionary<string, string>(), args);

    /// <summary>Starts sweeper in the background with extra environment variables.</summary>
    public static Running Start(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sweeper.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        return new Running(Process.Start(psi)!, string.Join(' ', args));
    }

    /// <summary>A sweeper process running in the background.</summary>
    public sealed class Running : IDisposable
    {
        private readonly Process _process;
        private readonly string _label;
        private readonly List<string> _lines = new();
        private readonly Lock _gate = new();
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Running(Process process, string label)
        {
            _process = process;
            _label = label;
            process.OutputDataReceived += (_, e) => Add(e.Data);
            process.ErrorDataReceived += (_, e) => Add(e.Data is null ? null : "stderr: " + e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public int Id => _process.Id;

        public string Output { get { lock (_gate) return string.Join('\n', _lines); } }

        private void Add(string? line)
        {
            if (line is null) return;
            TaskCompletionSource changed;
            lock (_gate)
            {
                _lines.Add(line);
                changed = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            changed.TrySetResult();
        }

        /// <summary>Waits for an output line that matches; returns it.</summary>
        public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    var hit = _lines.FirstOrDefault(match);
                    if (hit is not null) return hit;
                    changed = _changed.Task;
                }
                if (_process.HasExited && changed.IsCompleted == false)
                {
                    await Task.Delay(100); // let the last lines arrive
                    lock (_gate) { var hit = _lines.FirstOrDefault(match); if (hit is not null) return hit; }
                    throw new InvalidOperationException($"sweeper {_label} exited ({_process.ExitCode}) before the awaited line:\n{Output}");
                }
                try { await changed.WaitAsync(TimeSpan.FromMilliseconds(500), cts.Token); }
                catch (TimeoutException) { }
                catch (OperationCanceledException) { throw new TimeoutException($"sweeper {_label}: no matching line within {timeout}:\n{Output}"); }
            }
        }

        public bool HasExited => _process.HasExited;

        /// <summary>Sends a signal by name, as <c>kill -s NAME</c>: TERM, INT, STOP...</summary>
        public void Signal(string name)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-s", name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
            kill.WaitForExit();
            if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -s {name} {_process.Id} failed ({kill.ExitCode})");
        }

        /// <summary>kill -9.</summary>
        public void KillHard()
        {
            _process.Kill(entireProcessTree: false);
            _process.WaitForExit();
        }

        public async Task<int> WaitForExitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try { await _process.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"sweeper {_label} did not exit within {timeout}:\n{Output}"); }
            _process.WaitForExit(); // flush the output events
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }

    public static async Task<Outcome> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "sweeper.dll");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"sweeper {string.Join(' ', args)} did not finish in {timeout}:\n{await stdout}\n{await stderr}");
        }
        return new Outcome(p.ExitCode, await stdout, await stderr);
    }
}
