using System.Text.Json;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Stability;
using Sweeper.Core.Trials;
using Sweeper.Training.Trainables.Command;
using static Sweeper.Training.Tests.Trainables.Command.CommandTestKit;

namespace Sweeper.Training.Tests.Trainables.Command;

/// <summary>Program trainables driven through tiny /bin/sh and python3 programs. Every wait is bounded (<see cref="CommandTestKit.Bound"/>).</summary>
public class CommandTrainableTests
{
    private const string TwoEpochs = """
        echo "warming up"
        echo "a warning" >&2
        echo '{"step": 1, "loss": 2.5, "grad_norm": 1.5}'
        echo '{"epoch": 1, "val_accuracy": 0.5, "loss": 1.25, "test_accuracy": 0.45}'
        echo '{"step": 2, "loss": 1.0}'
        echo '{"epoch": 2, "val_accuracy": 0.75, "loss": 0.5, "test_accuracy": 0.7}'
        """;

    [Fact]
    public async Task RunEpoch_EpochLines_ReturnsTheirMetricsAndStepsReachTheObserver()
    {
        using var kit = new CommandTestKit();
        using var trainable = kit.Trainable(kit.Sh(TwoEpochs));
        var steps = new List<StepObservation>();
        trainable.ObserveSteps(steps.Add);

        var first = await Bounded(() => trainable.RunEpoch(1, CancellationToken.None));
        var second = await Bounded(() => trainable.RunEpoch(2, CancellationToken.None));
        await Bounded(trainable.Dispose);

        Assert.Equal(1, first.Epoch);
        Assert.Equal(0.5, first.Get(MetricNames.ValAccuracy));
        Assert.Equal(1.25, first.Get(MetricNames.TrainLoss));
        Assert.Equal(0.45, first.Get(MetricNames.TestAccuracy));
        Assert.Equal(0.75, second.Get(MetricNames.ValAccuracy));
        Assert.Equal([1L, 2L], steps.Select(s => s.Step));
        Assert.Equal(1.5, steps[0].GradNorm);
        Assert.Contains("==== sweeper: trial t0007, assignment 1", kit.Log);
        Assert.Contains("warming up", kit.Log);
        Assert.Contains("a warning", kit.Log);
        Assert.DoesNotContain("\"epoch\"", kit.Log);
    }

    [Fact]
    public async Task RunEpoch_PythonNaNLoss_ReachesTheObserverAsNaN()
    {
        using var kit = new CommandTestKit();
        using var trainable = kit.Trainable(kit.Python("""
            import json
            print(json.dumps({"step": 1, "loss": 0.5}))
            print(json.dumps({"step": 2, "loss": float("nan"), "grad_norm": float("inf")}))
            print(json.dumps({"epoch": 1, "loss": float("nan"), "val_accuracy": 0.1}))
            """), epochs: 1);
        var steps = new List<StepObservation>();
        trainable.ObserveSteps(steps.Add);

        var result = await Bounded(() => trainable.RunEpoch(1, CancellationToken.None));

        Assert.Equal(2, steps.Count);
        Assert.True(double.IsNaN(steps[1].Loss));
        Assert.Equal(double.PositiveInfinity, steps[1].GradNorm);
        Assert.True(double.IsNaN(result.Get(MetricNames.TrainLoss)));
    }

    [Theory]
    [InlineData("""{"epoch": "one"}""", "\"epoch\" is not an integer")]
    [InlineData("""{"epoch": 1, "val_accuracy": 0.5""", "not valid JSON")]
    [InlineData("""{"epoch": 2, "val_accuracy": 0.5}""", "epoch 2 where epoch 1 was expected")]
    [InlineData("""{"epoch": 1, "val_accuracy": [0.5]}""", "metric \"val_accuracy\" is not a number")]
    [InlineData("""{"epoch": 1, "checkpoint": "missing.pt"}""", "checkpoint 'missing.pt' does not exist")]
    public async Task RunEpoch_MalformedLine_FailsNamingProgramLineAndProblem(string line, string problem)
    {
        using var kit = new CommandTestKit();
        File.WriteAllText(kit.File("line.txt"), line);
        using var trainable = kit.Trainable(kit.Sh("echo 'program output'\necho '{\"step\": 1, \"loss\": 1}'\ncat line.txt\necho\nsleep 1000\n"));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Bounded(() => trainable.RunEpoch(1, CancellationToken.None)));

        Assert.StartsWith("sh program.sh: stdout line 3: ", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Contains(line[..10], error.Message);
        Assert.Throws<InvalidOperationException>(() => trainable.RunEpoch(1, CancellationToken.None));
    }

    [Fact]
    public async Task RunEpoch_LongLine_FailsQuotingAtMost200Characters()
    {
        using var kit = new CommandTestKit();
        using var trainable = kit.Trainable(kit.Python("""print('{"epoch": 1, "note": "' + "x" * 5000 + '"}')"""));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Bounded(() => trainable.RunEpoch(1, CancellationToken.None)));

        Assert.Contains("stdout line 1", error.Message);
        Assert.True(error.Message.Length < 400, error.Message);
    }

    [Fact]
    public async Task RunEpoch_LineOverOneMiB_FailsInsteadOfBufferingIt()
    {
        using var kit = new CommandTestKit();
        using var trainable = kit.Trainable(kit.Python("""
            import sys
            sys.stdout.write('{"epoch": 1, "x": "' + "y" * (3 << 20) + '"}\n')
            sys.stdout.write('{"epoch": 1, "loss": 1}\n')
            """));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Bounded(() => trainable.RunEpoch(1, CancellationToken.None)));

        Assert.Contains("stdout line 1: the line is longer than 1048576 bytes", error.Message);
    }

    [Fact]
    public async Task RunEpoch_NonZeroExit_CrashesWithExitCodeAndStderrTail()
    {
        using var kit = new CommandTestKit();
        using var trainable = kit.Trainable(kit.Sh("""
            echo '{"epoch": 1, "loss": 1}'
            i=0
            while [ $i -lt 30 ]; do echo "trace line $i" >&2; i=$((i+1)); done
            echo "RuntimeError: out of memory" >&2
            exit 3
            """));

        await Bounded(() => trainable.RunEpoch(1, CancellationToken.None));
        var error = await Assert.ThrowsAsync<ProgramFailedException>(() => Bounded(() => trainable.RunEpoch(2, CancellationToken.None)));

        Assert.Equal(3, error.ExitCode);
        Assert.Contains("sh program.sh exited with code 3 before reporting epoch 2 of 2", error.Message);
        Assert.Contains("RuntimeError: out of memory", error.Message);
        Assert.Contains("trace line 29", error.Message);
        Assert.DoesNotContain("trace line 5\n", error.Message);
        Assert.Equal(CommandTrainable.StderrTailLines, error.StderrTail.Count);
    }

    [Fact]
    public async Task RunEpoch_ExitZeroBeforeLastEpoch_Crashes()
    {
        using var kit = new CommandTestKit();
        using var trainable = kit.Trainable(kit.Sh("echo '{\"epoch\": 1, \"loss\": 1}'\n"), epochs: 3);

        await Bounded(() => trainable.RunEpoch(1, CancellationToken.None));
        var error = await Assert.ThrowsAsync<ProgramFailedException>(() => Bounded(() => trainable.RunEpoch(2, CancellationToken.None)));

        Assert.Equal(0, error.ExitCode);
        Assert.Contains("exited with code 0 before reporting epoch 2 of 3", error.Message);
    }

    [Fact]
    public async Task Start_Setsid_ExecsInPlaceSoTheProgramLeadsItsOwnGroup()
    {
        using var kit = new CommandTestKit();
        using var trainable = kit.Trainable(kit.Sh("echo $$ > self.pid\necho '{\"epoch\": 1, \"loss\": 1}'\nsleep 1000\n"));

        await Bounded(() => trainable.RunEpoch(1, CancellationToken.None));

        int pid = kit.ReadPid("self.pid");
        Assert.Equal(trainable.ProcessId, pid);
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        Assert.Equal(pid.ToString(), fields[2]); // pgrp
        Assert.Equal(pid.ToString(), fields[3]); // session
        Assert.NotEqual(Environment.ProcessId.ToString(), fields[2]);
        await Bounded(trainable.Dispose);
        Assert.False(Runs(pid));
    }

    [Fact]
    public async Task RunEpoch_Cancelled_StopsTheWholeProcessGroup()
    {
        using var kit = new CommandTestKit();
        using var trainable = kit.Trainable(kit.Sh("""
            sleep 1000 &
            echo $! > child.pid
            echo $$ > self.pid
            echo '{"step": 1, "loss": 1}'
            wait
            """));
        using var cancel = new CancellationTokenSource();
        trainable.ObserveSteps(_ => cancel.Cancel());

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Bounded(() => trainable.RunEpoch(1, cancel.Token)));

        Assert.False(Runs(kit.ReadPid("self.pid")));
        Assert.False(Runs(kit.ReadPid("child.pid")));
        Assert.Contains("SIGTERM to process group", kit.Log);
    }

    [Fact]
    public async Task Dispose_BetweenEpochs_StopsTheProgramAndItsChildren()
    {
        using var kit = new CommandTestKit();
        var trainable = kit.Trainable(kit.Sh("""
            sleep 1000 &
            echo $! > child.pid
            echo $$ > self.pid
            echo '{"epoch": 1, "loss": 1}'
            wait
            """), epochs: 3);

        await Bounded(() => trainable.RunEpoch(1, CancellationToken.None));
        int self = kit.ReadPid("self.pid"), child = kit.ReadPid("child.pid");
        Assert.True(Runs(child));
        await Bounded(trainable.Dispose);

        Assert.False(Runs(self));
        Assert.False(Runs(child));
    }

    [Fact]
    public async Task Dispose_ProgramIgnoringSigterm_IsKilledAfterTheGrace()
    {
        using var kit = new CommandTestKit();
        var trainable = kit.Trainable(kit.Sh("""
            trap '' TERM
            sleep 1000 &
            echo $! > child.pid
            echo $$ > self.pid
            echo '{"epoch": 1, "loss": 1}'
            while true; do wait; done
            """), epochs: 2, killGrace: TimeSpan.FromMilliseconds(300));

        await Bounded(() => trainable.RunEpoch(1, CancellationToken.None));
        await Bounded(trainable.Dispose);

        Assert.False(Runs(kit.ReadPid("self.pid")));
        Assert.False(Runs(kit.ReadPid("child.pid")));
        Assert.Contains("SIGKILL to process group", kit.Log);
    }

    private const string CheckpointingProgram = """
        start=1
        if [ -n "$SWEEPER_RESUME_CHECKPOINT" ]; then
          restored=$(cat "$SWEEPER_RESUME_CHECKPOINT")
          echo "resuming from $(basename "$SWEEPER_RESUME_CHECKPOINT")" >&2
          start=$((SWEEPER_RESUME_EPOCH + ${FIRST_EPOCH_OFFSET:-1}))
        else
          restored=0
        fi
        e=$start
        while [ $e -le $SWEEPER_EPOCHS ]; do
          echo "$((e * 100))" > "$SWEEPER_CHECKPOINT_DIR/state_$e.txt"
          echo "{\"epoch\": $e, \"loss\": 1, \"restored\": $restored, \"checkpoint\": \"state_$e.txt\"}"
          e=$((e + 1))
        done
        """;

    [Fact]
    public async Task SaveAndLoadCheckpoint_RoundTrip_ResumesTheProgramAfterTheEpoch()
    {
        using var kit = new CommandTestKit();
        var argv = kit.Sh(CheckpointingProgram);
        string saved = kit.File("epoch-0002.ckpt");
        using (var first = kit.Trainable(argv, epochs: 3))
        {
            await Bounded(() => first.RunEpoch(1, CancellationToken.None));
            await Bounded(() => first.RunEpoch(2, CancellationToken.None));
            first.SaveCheckpoint(saved, 2);
            Assert.False(File.Exists(Path.Combine(first.CheckpointFolder, "state_1.txt"))); // superseded, Sweeper kept its own copy
        }

        int epoch;
        EpochResult third;
        using (var second = kit.Trainable(kit.Config(argv, epochs: 3), assignment: 2))
        {
            epoch = second.LoadCheckpoint(saved);
            third = await Bounded(() => second.RunEpoch(3, CancellationToken.None));
            Assert.Equal("state_2.txt", Path.GetFileName(Directory.GetFiles(second.ResumeFolder).Single()));
        } // disposed: its stderr reader has written every line to the log (it runs beside the stdout reader)

        Assert.Equal(2, epoch);
        Assert.Equal(200, third.Get("restored"));
        Assert.Contains("resuming from state_2.txt", kit.Log);
        Assert.Contains("==== sweeper: trial t0007, assignment 2", kit.Log);
    }

    [Fact]
    public async Task LoadCheckpoint_ProgramRestartingAtEpochOne_FailsNamingTheResumeEpoch()
    {
        using var kit = new CommandTestKit();
        var argv = kit.Sh("export FIRST_EPOCH_OFFSET=-1\n" + CheckpointingProgram);
        string saved = kit.File("epoch-0002.ckpt");
        using (var first = kit.Trainable(argv, epochs: 3))
        {
            await Bounded(() => first.RunEpoch(1, CancellationToken.None));
            await Bounded(() => first.RunEpoch(2, CancellationToken.None));
            first.SaveCheckpoint(saved, 2);
        }
        using var second = kit.Trainable(argv, epochs: 3);
        second.LoadCheckpoint(saved);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Bounded(() => second.RunEpoch(3, CancellationToken.None)));

        Assert.Contains("epoch 1 where epoch 3 was expected (it was resumed after epoch 2", error.Message);
    }

    [Fact]
    public async Task SaveCheckpoint_NoCheckpointNamed_WritesOneThatRestartsFromScratch()
    {
        using var kit = new CommandTestKit();
        var argv = kit.Sh("echo '{\"epoch\": 1, \"loss\": 1}'\necho '{\"epoch\": 2, \"loss\": 1}'\n");
        string saved = kit.File("epoch-0001.ckpt");
        using (var first = kit.Trainable(argv))
        {
            await Bounded(() => first.RunEpoch(1, CancellationToken.None));
            first.SaveCheckpoint(saved, 1);
        }
        using var second = kit.Trainable(argv);

        Assert.Equal(0, second.LoadCheckpoint(saved));
        Assert.Equal(1, (await Bounded(() => second.RunEpoch(1, CancellationToken.None))).Epoch);
        Assert.Contains("named no checkpoint on its epoch 1 line", kit.Log);
    }

    [Fact]
    public async Task LoadCheckpoint_CutShortOrForeign_IsInvalidData()
    {
        using var kit = new CommandTestKit();
        var argv = kit.Sh(CheckpointingProgram);
        string saved = kit.File("epoch-0001.ckpt");
        using (var first = kit.Trainable(argv))
        {
            await Bounded(() => first.RunEpoch(1, CancellationToken.None));
            first.SaveCheckpoint(saved, 1);
        }
        var bytes = File.ReadAllBytes(saved);
        File.WriteAllBytes(kit.File("short.ckpt"), bytes[..^2]);
        File.WriteAllText(kit.File("foreign.ckpt"), "sweeper-synthetic-checkpoint v1\nepoch=1\n");
        using var second = kit.Trainable(argv);

        Assert.Contains("cut short", Assert.Throws<InvalidDataException>(() => second.LoadCheckpoint(kit.File("short.ckpt"))).Message);
        Assert.Contains("not a program trainable checkpoint", Assert.Throws<InvalidDataException>(() => second.LoadCheckpoint(kit.File("foreign.ckpt"))).Message);
        Assert.Equal(1, second.LoadCheckpoint(saved));
    }

    [Fact]
    public async Task Start_ArgumentsAndEnvironment_CarryTheTrialsSettings()
    {
        using var kit = new CommandTestKit();
        var argv = kit.Sh("""
            printf '%s\n' "$@" > args.txt
            env | grep '^SWEEPER_' | sort > env.txt
            echo '{"epoch": 1, "loss": 1}'
            """);
        var config = kit.Config([.. argv, "--lr", "${trainable.optimizer.lr}", "--depth=${trainable.args.depth}", "$${literal}", "${trial.id}", "${trial.seed}", "${trial.epochs}"],
            epochs: 1, parameters: [new("trainable.optimizer.lr", 0.1), new("trainable.args.depth", 4L)],
            args: new TrainableArgs([new("depth", 4L), new("model.width-mult", 0.5), new("use_bn", true)]), lr: 0.1);
        using var trainable = kit.Trainable(config);

        await Bounded(() => trainable.RunEpoch(1, CancellationToken.None));

        Assert.Equal(["--lr", "0.1", "--depth=4", "${literal}", "t0007", "1234", "1"], File.ReadAllLines(kit.File("args.txt")));
        var env = File.ReadAllLines(kit.File("env.txt")).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal("t0007", env["SWEEPER_TRIAL_ID"]);
        Assert.Equal("1234", env["SWEEPER_SEED"]);
        Assert.Equal("1", env["SWEEPER_EPOCHS"]);
        Assert.Equal("4", env["SWEEPER_ARG_DEPTH"]);
        Assert.Equal("0.5", env["SWEEPER_ARG_MODEL_WIDTH_MULT"]);
        Assert.Equal("true", env["SWEEPER_ARG_USE_BN"]);
        Assert.Equal(trainable.CheckpointFolder, env["SWEEPER_CHECKPOINT_DIR"]);
        Assert.True(Directory.Exists(env["SWEEPER_CHECKPOINT_DIR"]));
        Assert.False(env.ContainsKey("SWEEPER_RESUME_CHECKPOINT"));
        Assert.False(env.ContainsKey("SWEEPER_RESUME_EPOCH"));
        using var json = JsonDocument.Parse(File.ReadAllText(env["SWEEPER_PARAMS"]));
        var root = json.RootElement;
        Assert.Equal("t0007", root.GetProperty("trial_id").GetString());
        Assert.Equal(1234, root.GetProperty("seed").GetInt64());
        Assert.Equal(1, root.GetProperty("epochs").GetInt32());
        Assert.Equal(0.1, root.GetProperty("parameters").GetProperty("trainable.optimizer.lr").GetDouble());
        Assert.Equal(4, root.GetProperty("args").GetProperty("depth").GetInt64());
        Assert.Equal(0.5, root.GetProperty("args").GetProperty("model.width-mult").GetDouble());
        Assert.True(root.GetProperty("args").GetProperty("use_bn").GetBoolean());
    }

    [Fact]
    public void Create_UnknownPlaceholder_ThrowsNamingTheKey()
    {
        using var kit = new CommandTestKit();

        var error = Assert.Throws<ArgumentException>(() => new CommandTrainableFactory().Create(kit.Config(["prog", "${trainable.args.missing}"]), new(kit.TrialFolder, 1)));

        Assert.Contains("'${trainable.args.missing}'", error.Message);
    }

    [Fact]
    public async Task RunEpoch_MissingProgram_FailsNamingIt()
    {
        using var kit = new CommandTestKit();
        using var trainable = kit.Trainable(["/nonexistent/trainer", "--x"]);

        var error = await Assert.ThrowsAsync<ProgramFailedException>(() => Bounded(() => trainable.RunEpoch(1, CancellationToken.None)));

        Assert.Contains("trainer exited with code", error.Message);
        Assert.Contains("/nonexistent/trainer", error.Message); // setsid's own complaint, from stderr
    }
}
