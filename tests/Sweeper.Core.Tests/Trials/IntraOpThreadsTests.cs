using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Trials.Synthetic;

namespace Sweeper.Core.Tests.Trials;

public sealed class IntraOpThreadsTests
{
    [Theory]
    [InlineData(1, 2, 2)]  // one slot on two cores: both cores
    [InlineData(2, 2, 1)]
    [InlineData(3, 2, 1)]  // more slots than cores: one each
    [InlineData(2, 8, 4)]
    [InlineData(3, 8, 2)]  // the remainder stays idle rather than oversubscribing
    [InlineData(1, 1, 1)]
    public void Auto_DividesTheCoresAmongTheSlots(int slots, int cores, int expected) =>
        Assert.Equal(expected, IntraOpThreads.Auto(slots, cores));

    [Theory]
    [InlineData("auto", null)]
    [InlineData("AUTO", null)]
    [InlineData("1", 1)]
    [InlineData("256", 256)]
    public void TryParse_AutoOrACount(string text, int? expected)
    {
        Assert.True(IntraOpThreads.TryParse(text, out var threads, out var error));
        Assert.Equal(expected, threads);
        Assert.Null(error);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("257")]
    [InlineData("-1")]
    [InlineData("two")]
    [InlineData("1.5")]
    [InlineData("")]
    public void TryParse_AnythingElse_SaysWhatIsExpected(string text)
    {
        Assert.False(IntraOpThreads.TryParse(text, out _, out var error));
        Assert.Equal($"--threads-per-trial must be 'auto' or a whole number from 1 to 256 (got '{text}')", error);
    }

    [Fact]
    public void For_GivesEveryAssignmentTheCount_KeepingItsFolders()
    {
        var inner = new RecordingFactory();
        var factory = IntraOpThreads.For(inner, 3);
        var context = new TrialContext("/runs/x/checkpoints/t0001", 2);

        factory.Create(new TrialConfig { Id = new TrialId(1), Seed = 1, Parameters = [], Trainable = new TrainableSpec { Model = "synthetic", Dataset = new DatasetSpec() } }, context);

        Assert.Equal(context with { IntraOpThreads = 3 }, inner.Context);
        Assert.Equal("/runs/x/checkpoints/t0001", inner.Context!.TrialFolder);
        Assert.Equal(2, inner.Context.Assignment);
        Assert.Equal(1, new TrialContext("/f", 1).IntraOpThreads); // without a worker's word: one thread
    }

    private sealed class RecordingFactory : ITrainableFactory
    {
        public TrialContext? Context { get; private set; }

        public ITrainable Create(TrialConfig config) => throw new InvalidOperationException("the context must be passed on");

        public ITrainable Create(TrialConfig config, TrialContext context)
        {
            Context = context;
            return new SyntheticTrainable(config, new SyntheticTrainableOptions());
        }
    }
}
