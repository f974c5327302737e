using Sweeper.Cluster.Hosting;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Tests.Hosting;

/// <summary>Mutual TLS on loopback with self-signed certificates: only a node holding the sweep's certificate can join.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private TlsOptions Certificate(string name, string password)
    {
        var path = Path.Combine(_dir, name + ".pfx");
        TlsOptions.CreateSelfSigned(path, password);
        return new TlsOptions(path, password);
    }

    [Fact]
    public async Task Join_SameCertificate_WorkerRunsTheSweep_OthersCannotJoin()
    {
        var tls = Certificate("sweep", "s3cret");
        var stranger = Certificate("stranger", "other");
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 2);
        await using var coordinator = await TestNode.CoordinatorAsync(spec, TestSpecs.Trials(spec, 0.1, 0.01), tls);
        var seed = coordinator.Address;
        Assert.StartsWith("akka.ssl.tcp://sweeper@127.0.0.1:", seed);

        // Without TLS, and with another certificate: never members, so no trial reaches them.
        var plainFactory = new FakeTrainableFactory();
        var strangerFactory = new FakeTrainableFactory();
        await using (var plain = await TestNode.WorkerAsync(seed.Replace("akka.ssl.tcp", "akka.tcp"), 1, plainFactory))
        await using (var other = await TestNode.WorkerAsync(seed, 1, strangerFactory, stranger))
        {
            await Task.Delay(TimeSpan.FromSeconds(6));
            Assert.Single(Akka.Cluster.Cluster.Get(coordinator.System).State.Members); // the coordinator alone
            Assert.Equal(0, plainFactory.Created);
            Assert.Equal(0, strangerFactory.Created);
        }

        // With the certificate: joins and runs every trial.
        var factory = new FakeTrainableFactory();
        await using var worker = await TestNode.WorkerAsync(seed, 1, factory, tls);
        var result = await coordinator.WaitForSweepAsync(TimeSpan.FromSeconds(60));
        Assert.All(result.Trials, t => Assert.Equal(TrialState.Completed, t.State));
        Assert.Equal(2, factory.Created);
        Assert.All(result.Trials, t => Assert.Equal(worker.Address, t.Worker));
    }

    [Fact]
    public void Load_WrongPassword_ClearError()
    {
        var tls = Certificate("sweep", "right");
        var ex = Assert.Throws<InvalidDataException>(() => (tls with { Password = "wrong" }).Load());
        Assert.Contains("wrong password?", ex.Message);
    }
}
