using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sweeper.Cluster.Hosting;

/// <summary>
/// Mutual TLS for remoting: every node of a sweep holds the same PKCS#12 certificate (with its private key), and a
/// node accepts a peer only if it presents that very certificate. A node without it cannot join.
/// </summary>
public sealed record TlsOptions(string CertificatePath, string? Password)
{
    public X509Certificate2 Load()
    {
        if (!File.Exists(CertificatePath)) throw new FileNotFoundException($"TLS certificate not found: {CertificatePath}", CertificatePath);
        try
        {
            var certificate = X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, Password, X509KeyStorageFlags.Exportable);
            if (!certificate.HasPrivateKey) throw new InvalidDataException($"{CertificatePath} holds no private key; export the certificate with its key (PKCS#12, .pfx)");
            return certificate;
        }
        catch (CryptographicException ex)
        {
            throw new InvalidDataException($"cannot read the TLS certificate {CertificatePath}: {ex.Message} (wrong password?)", ex);
        }
    }

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
