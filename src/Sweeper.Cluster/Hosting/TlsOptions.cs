using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Sweeper.Cluster.Hosting;

/// <summary>
/// Mutual TLS for remoting. Without <see cref="CaPath"/>: every node of a sweep holds the same PKCS#12 certificate
/// (with its private key), and a node accepts a peer only if it presents that very certificate. With a private CA
/// (<see cref="CaPath"/>, PEM): every node has its own certificate, and a peer is accepted if its certificate is issued
/// by that CA. A node without such a certificate cannot join.
/// </summary>
public sealed record TlsOptions(string CertificatePath, string? Password, string? CaPath = null)
{
    public X509Certificate2 Load()
    {
        if (!File.Exists(CertificatePath)) throw new FileNotFoundException($"TLS certificate not found: {CertificatePath}", CertificatePath);
        try
        {
            var certificate = X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, Password, X509KeyStorageFlags.Exportable);
            if (!certificate.HasPrivateKey) throw new InvalidDataException($"{CertificatePath} holds no private key; export the certificate with its key (PKCS#12, .pfx)");
            if (LoadCa() is { } ca && !IsIssuedBy(certificate, ca))
                throw new InvalidDataException($"{CertificatePath} is not issued by the CA in {CaPath}");
            return certificate;
        }
        catch (CryptographicException ex)
        {
            throw new InvalidDataException($"cannot read the TLS certificate {CertificatePath}: {ex.Message} (wrong password?)", ex);
        }
    }

    /// <summary>The private CA of <see cref="CaPath"/> (PEM), or null when there is none.</summary>
    public X509Certificate2? LoadCa()
    {
        if (CaPath is null) return null;
        if (!File.Exists(CaPath)) throw new FileNotFoundException($"TLS CA certificate not found: {CaPath}", CaPath);
        try { return X509Certificate2.CreateFromPem(File.ReadAllText(CaPath)); }
        catch (CryptographicException ex) { throw new InvalidDataException($"cannot read the CA certificate {CaPath} (PEM expected): {ex.Message}", ex); }
    }

    /// <summary>True when <paramref name="certificate"/> chains to <paramref name="ca"/> and to no other root.</summary>
    public static bool IsIssuedBy(X509Certificate2 certificate, X509Certificate2 ca, X509Chain? presented = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // a private CA publishes no revocation list
        if (presented is not null)
            foreach (var element in presented.ChainElements) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        return chain.Build(certificate);
    }

    /// <summary>Remoting's check of a peer: its certificate must be issued by <paramref name="ca"/>.</summary>
    public static CertificateValidationCallback TrustedBy(X509Certificate2 ca) => (certificate, chain, peer, _, log) =>
    {
        if (certificate is not null && IsIssuedBy(certificate, ca, chain)) return true;
        log?.Warning("TLS: refused {0}: its certificate ({1}) is not issued by the sweep's CA ({2})", peer, certificate?.Subject ?? "none", ca.Subject);
        return false;
    };

    /// <summary>Writes a new self-signed certificate for <paramref name="subject"/> to <paramref name="path"/> (PKCS#12).</summary>
    public static void CreateSelfSigned(string path, string? password, string subject = "CN=sweeper", int days = 365)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(days));
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, password));
    }
}
