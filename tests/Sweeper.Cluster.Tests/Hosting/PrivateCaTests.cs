using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sweeper.Cluster.Hosting;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Tests.Hosting;

/// <summary>Mutual TLS with a private CA: every node has its own certificate; only those the CA issued can join.</summary>
public sealed class PrivateCaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-ca-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    /// <summary>A CA (with its key) and its certificate as PEM in the test folder.</summary>
    private (X509Certificate2 Ca, string Pem) Ca(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var ca = request.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(30));
        var pem = Path.Combine(_dir, name + ".pem");
        File.WriteAllText(pem, ca.ExportCertificatePem());
        return (ca, pem);
    }

    /// <summary>A node certificate issued by <paramref name="ca"/>, as TLS options trusting <paramref name="trustedPem"/>.</summary>
    private TlsOptions Node(X509Certificate2 ca, string name, string trustedPem)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var issued = request.Create(ca, Now.AddDays(-1), Now.AddDays(10), RandomNumberGenerator.GetBytes(16));
        using var withKey = issued.CopyWithPrivateKey(key);
        var pfx = Path.Combine(_dir, name + ".pfx");
        File.WriteAllBytes(pfx, withKey.Export(X509ContentType.Pkcs12, "pw"));
        return new TlsOptions(pfx, "pw", trustedPem);
    }

    [Fact]
    public async Task Join_OwnCertificateFromTheSweepsCa_WorkerRunsTheSweep_OtherCaCannotJoin()
    {
        var (ca, pem) = Ca("sweep-ca");
        var (otherCa, otherPem) = Ca("other-ca");
        var spec = TestSpecs.Spec(maxConcurrent: 1, epochs: 2);
        await using var coordinator = await TestNode.CoordinatorAsync(spec, TestSpecs.Trials(spec, 0.1, 0.01), Node(ca, "coordinator", pem));
        var seed = coordinator.Address;

        var strangerFactory = new FakeTrainableFactory();
        await using (var stranger = await TestNode.WorkerAsync(seed, 1, strangerFactory, Node(otherCa, "stranger", otherPem)))
        {
            await Task.Delay(TimeSpan.FromSeconds(6));
            Assert.Single(Akka.Cluster.Cluster.Get(coordinator.System).State.Members); // the coordinator alone
            Assert.Equal(0, strangerFactory.Created);
        }

        // Its own certificate, issued by the sweep's CA: joins and runs every trial.
        var factory = new FakeTrainableFactory();
        await using var worker = await TestNode.WorkerAsync(seed, 1, factory, Node(ca, "worker", pem));
        var result = await coordinator.WaitForSweepAsync(TimeSpan.FromSeconds(60));
        Assert.All(result.Trials, t => Assert.Equal(TrialState.Completed, t.State));
        Assert.Equal(2, factory.Created);
    }

    [Fact]
    public void Load_CertificateNotIssuedByTheCa_ClearError()
    {
        var (_, pem) = Ca("sweep-ca");
        var (otherCa, _) = Ca("other-ca");

        var ex = Assert.Throws<InvalidDataException>(() => Node(otherCa, "node", pem).Load());

        Assert.Contains("is not issued by the CA in", ex.Message);
    }
}
