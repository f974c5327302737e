using Akka.Actor;
using Akka.Serialization;
using Akka.TestKit.Xunit2;
using Sweeper.Cluster.Messages;
using Sweeper.Cluster.Serialization;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;
using Sweeper.Core.Model;

namespace Sweeper.Cluster.Tests.Serialization;

public sealed class SweeperMessageSerializerTests() : TestKit(SweeperMessageSerializer.Hocon)
{
    private static readonly TrialConfig Config = new()
    {
        Id = new TrialId(7),
        Seed = 12345,
        Parameters = [new("trainable.optimizer.lr", 0.1), new("trainable.width", 1.0), new("trainable.batch_size", 64L), new("trainable.optimizer.name", "adam")],
        Trainable = new TrainableSpec { Dataset = new DatasetSpec { TrainSubset = 100 }, Epochs = 3, Width = 1.0 },
    };

    private static readonly EpochResult Epoch = new(2, new Dictionary<string, double> { ["test_accuracy"] = 0.8125, ["train_loss"] = double.NaN }, TimeSpan.FromMilliseconds(1234.5));

    private static readonly TrialRecord Result = new()
    {
        Config = Config, State = TrialState.Completed, Epochs = [Epoch], Worker = "akka.tcp://sweeper@127.0.0.1:1234",
        StartedAt = DateTimeOffset.UnixEpoch, FinishedAt = DateTimeOffset.UnixEpoch.AddSeconds(3), Reason = null,
        Checkpoint = new CheckpointRef(2, "/c/t0007/epoch-0002.ckpt"), Resumes = [new TrialResume(2, "worker gone", DateTimeOffset.UnixEpoch)], Crashes = [new TrialCrash("E: x", 1, DateTimeOffset.UnixEpoch)],
    };

    public static TheoryData<ISweeperMessage> Messages => new()
    {
        new WorkerCommands.RegisterWorker("akka.tcp://sweeper@127.0.0.1:1", 2),
        new WorkerCommands.WorkerRegistered("5f0c"),
        new WorkerCommands.AssignTrial(Config, 2, new CheckpointRef(3, "/tmp/c/t0007/epoch-0003.ckpt"), "/tmp/c", 1),
        new WorkerCommands.StopTrial(new TrialId(3), "asked"),
        new WorkerCommands.StopAfterEpoch(new TrialId(3), 2, "stopped by request of pid 7 on h"),
        new TrialEvents.TrialStarted(new TrialId(3), 1, "node", 2),
        new TrialEvents.EpochCompleted(new TrialId(3), 1, Epoch),
        new TrialEvents.EpochCompleted(new TrialId(3), 1, Epoch with { Metrics = new MetricSets().Compact(Epoch.Metrics) }), // as trial actors send them
        new TrialEvents.CheckpointSaved(new TrialId(3), 1, new CheckpointRef(2, "/x")),
        new TrialEvents.TrialCompleted(new TrialId(3), 1),
        new TrialEvents.TrialPaused(new TrialId(3), 2, 4),
        new TrialEvents.TrialFailed(new TrialId(3), 1, "boom"),
        new TrialEvents.TrialCrashed(new TrialId(3), 1, "IOException: x", 2),
        SweepQueries.Subscribe.Instance,
        new SweepQueries.CancelSweep("user"),
        new SweepQueries.CancelSweep("stopped by request", Graceful: true),
        new SweepQueries.TrialUpdated(Result with { State = TrialState.Stopped, Interrupted = true }),
        SweepQueries.GetStatus.Instance,
        new SweepQueries.SweepStatus(3, 1, 2, 10, false),
        new SweepQueries.TrialUpdated(Result),
        new SweepQueries.SweepCompleted(new SweepResult("s", new ObjectiveSpec("test_accuracy", ObjectiveMode.Max), [Result], DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddMinutes(1))),
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void RoundTrip_EveryMessage_EquivalentAfterwards(ISweeperMessage message)
    {
        var serialization = Sys.Serialization;
        var serializer = serialization.FindSerializerFor(message);
        Assert.IsType<SweeperMessageSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var back = serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, manifest);

        Assert.Equal(message.GetType(), back.GetType());
        // Records with collections compare by reference, so compare the JSON of both sides.
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(message, message.GetType(), SweeperMessageSerializer.Options),
                     System.Text.Json.JsonSerializer.Serialize(back, back.GetType(), SweeperMessageSerializer.Options));
    }

    [Fact]
    public void RoundTrip_AssignTrial_ParameterValueTypesKept()
    {
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(new WorkerCommands.AssignTrial(Config, 1, null, "/c", 1));
        var back = (WorkerCommands.AssignTrial)serializer.FromBinary(serializer.ToBinary(new WorkerCommands.AssignTrial(Config, 1, null, "/c", 1)), serializer.Manifest(new WorkerCommands.AssignTrial(Config, 1, null, "/c", 1)));
        Assert.Equal([typeof(double), typeof(double), typeof(long), typeof(string)], back.Config.Parameters.Select(p => p.Value.GetType()));
        Assert.Equal(Config.Parameters, back.Config.Parameters);
        Assert.Equal(Config.Trainable, back.Config.Trainable);
    }

    [Fact]
    public void RoundTrip_AssignTrial_PluginCommandAndArgsKept()
    {
        var config = Config with
        {
            Trainable = Config.Trainable with
            {
                Model = "My.Net",
                Plugin = new ModelPluginSpec("/shared/My.dll", "My.Net"),
                Command = new CommandSpec { Argv = ["python3", "train.py", "${trial.id}"], WorkingDirectory = "/shared", KillGrace = TimeSpan.FromSeconds(2.5) },
                Args = new TrainableArgs([new("depth", 3L), new("rate", 1.0), new("act", "relu"), new("deep", true)]),
                Dataset = new DatasetSpec { Name = "mine", Format = DatasetFormats.Npy, Path = "/data/mine" },
                InputSize = 32,
            },
        };
        var message = new WorkerCommands.AssignTrial(config, 1, null, "/c", 1);
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(message);
        var back = (WorkerCommands.AssignTrial)serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
        Assert.Equal(config.Trainable, back.Config.Trainable);
        Assert.Equal([typeof(long), typeof(double), typeof(string), typeof(bool)], back.Config.Trainable.Args.Entries.Select(e => e.Value.GetType()));
    }

    [Fact]
    public void RoundTrip_Singletons_SameInstance()
    {
        var s = (SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(SweepQueries.Subscribe.Instance);
        Assert.Same(SweepQueries.Subscribe.Instance, s.FromBinary(s.ToBinary(SweepQueries.Subscribe.Instance), s.Manifest(SweepQueries.Subscribe.Instance)));
        Assert.Same(SweepQueries.GetStatus.Instance, s.FromBinary([], s.Manifest(SweepQueries.GetStatus.Instance)));
    }

    [Fact]
    public void FromBinary_UnknownManifest_Throws()
    {
        var s = (SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(SweepQueries.Subscribe.Instance);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => s.FromBinary([], "nope"));
    }

    [Fact]
    public void Table_CoversEveryMessageType()
    {
        var declared = typeof(ISweeperMessage).Assembly.GetTypes().Where(t => typeof(ISweeperMessage).IsAssignableFrom(t) && !t.IsInterface);
        Assert.Equal(declared.OrderBy(t => t.FullName), SweeperMessageSerializer.MessageTypes.OrderBy(t => t.FullName));
    }
}
