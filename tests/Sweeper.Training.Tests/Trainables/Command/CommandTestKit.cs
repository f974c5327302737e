using System.Globalization;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Training.Trainables.Command;

namespace Sweeper.Training.Tests.Trainables.Command;

/// <summary>A temp folder holding tiny programs, and the trial configs and trainables that run them.</summary>
internal sealed class CommandTestKit : IDisposable
{
    /// <summary>The longest any test waits for a trainable call; a test that needs more has hung.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _dir = new();

    public string Folder => _dir.Path;

    public string TrialFolder => Path.Combine(_dir.Path, "trial");

    public string File(string name) => _dir.File(name);

    /// <summary>Writes a /bin/sh script and returns the command that runs it.</summary>
    public string[] Sh(string body, string name = "program.sh")
    {
        System.IO.File.WriteAllText(File(name), body.ReplaceLineEndings("\n"));
        return ["/bin/sh", File(name)];
    }

    /// <summary>Writes a python3 script and returns the command that runs it.</summary>
    public string[] Python(string body, string name = "program.py")
    {
        System.IO.File.WriteAllText(File(name), body.ReplaceLineEndings("\n"));
        return ["python3", File(name)];
    }

    public TrialConfig Config(IReadOnlyList<string> argv, int epochs = 2, TimeSpan? killGrace = null,
        IReadOnlyList<KeyValuePair<string, object>>? parameters = null, TrainableArgs? args = null, double lr = 0.05) => new()
        {
            Id = new TrialId(7),
            Seed = 1234,
            Parameters = parameters ?? [],
            Trainable = new TrainableSpec
            {
                Model = TrainableSpec.CommandModel,
                Dataset = new DatasetSpec(),
                Epochs = epochs,
                Optimizer = new OptimizerSpec { Lr = lr },
                Args = args ?? TrainableArgs.Empty,
                Command = new CommandSpec { Argv = argv, WorkingDirectory = Folder, KillGrace = killGrace ?? TimeSpan.FromSeconds(5) },
            },
        };

    public CommandTrainable Trainable(TrialConfig config, int assignment = 1) => new(config, new TrialContext(TrialFolder, assignment));

    public CommandTrainable Trainable(IReadOnlyList<string> argv, int epochs = 2, TimeSpan? killGrace = null) => Trainable(Config(argv, epochs, killGrace));

    public string Log => System.IO.File.Exists(Path.Combine(TrialFolder, "trial.log")) ? System.IO.File.ReadAllText(Path.Combine(TrialFolder, "trial.log")) : "";

    public int ReadPid(string name) => int.Parse(System.IO.File.ReadAllText(File(name)).Trim(), CultureInfo.InvariantCulture);

    /// <summary>Runs <paramref name="work"/> on a thread of its own and fails the test if it takes longer than <see cref="Bound"/>.</summary>
    public static Task<T> Bounded<T>(Func<T> work) => Task.Run(work).WaitAsync(Bound);

    public static Task Bounded(Action work) => Task.Run(work).WaitAsync(Bound);

    /// <summary>Whether process <paramref name="pid"/> runs: its <c>/proc</c> entry exists and is not a zombie (an orphan's parent may never reap it).</summary>
    public static bool Runs(int pid)
    {
        string stat;
        try { stat = System.IO.File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return false; }
        var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
        return state is not ("Z" or "X");
    }

    public void Dispose() => _dir.Dispose();
}
