using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace OpenReplica.Deploy;

/// <summary>
/// Mutual TLS for silo-to-silo and client-to-gateway connections (Microsoft.Orleans.Connections.Security) from
/// <see cref="DeploySettings.TlsCertificate"/>. Both ends present a certificate and each accepts the other's only if
/// it is the very certificate this process holds (one certificate shared by the deployment, e.g. the self-signed one
/// from <c>tls-cert</c>) or one that validates against the machine's trusted roots without errors (CA-issued).
/// A client or silo without the certificate fails the handshake: it can neither call nor join.
/// </summary>
public static class Tls
{
    /// <summary>Subject and DNS name of the certificates <see cref="CreateSelfSigned"/> makes.</summary>
    public const string DefaultSubjectName = "openreplica-deploy";

    public static readonly TimeSpan DefaultValidity = TimeSpan.FromDays(365);

    /// <summary>Adds TLS to the silo's both ports when a certificate is configured; otherwise leaves the silo as it is.</summary>
    public static ISiloBuilder UseDeploymentTls(this ISiloBuilder silo, DeploySettings settings)
    {
        if (LoadCertificate(settings) is { } certificate)
        {
            silo.UseTls(certificate, o => Configure(o, certificate));
        }

        return silo;
    }

    /// <summary>Adds TLS to the client's gateway connections when a certificate is configured.</summary>
    public static IClientBuilder UseDeploymentTls(this IClientBuilder client, DeploySettings settings)
    {
        if (LoadCertificate(settings) is { } certificate)
        {
            client.UseTls(certificate, o => Configure(o, certificate));
        }

        return client;
    }

    /// <summary>Reads the PKCS#12 file named by the settings (null when TLS is off), with an error naming the file.</summary>
    public static X509Certificate2? LoadCertificate(DeploySettings settings)
    {
        if (string.IsNullOrWhiteSpace(settings.TlsCertificate))
        {
            return null;
        }

        string path = Path.GetFullPath(settings.TlsCertificate);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Deploy:TlsCertificate (--tls-cert) '{path}' not found");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, settings.TlsPassword);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException(
                $"Deploy:TlsCertificate '{path}' could not be read as a PKCS#12 (.pfx) file with the given Deploy:TlsPassword: {e.Message}", e);
        }

        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException($"Deploy:TlsCertificate '{path}' holds no private key: a silo or client must prove it owns the certificate");
        }

        return certificate;
    }

    /// <summary>
    /// A self-signed certificate for a demo or a test deployment (ECDSA P-256), usable for both ends of a connection.
    /// Made at run time: no private key is ever committed.
    /// </summary>
    public static X509Certificate2 CreateSelfSigned(string subjectName = DefaultSubjectName, TimeSpan? validity = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subjectName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication"), new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(subjectName);
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now + (validity ?? DefaultValidity));
    }

    /// <summary>Writes a new self-signed certificate with its key to <paramref name="path"/> (PKCS#12), readable by the owner only.</summary>
    public static void WriteSelfSigned(string path, string? password, string subjectName = DefaultSubjectName)
    {
        path = Path.GetFullPath(path);
        if (File.Exists(path))
        {
            throw new ArgumentException($"'{path}' already exists; not overwriting a certificate (delete it first)");
        }

        using var certificate = CreateSelfSigned(subjectName);
        byte[] pfx = certificate.Export(X509ContentType.Pkcs12, password);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var file = new FileStream(path, options);
        file.Write(pfx);
    }

    private static void Configure(TlsOptions options, X509Certificate2 local)
    {
        // Mutual TLS: a silo also demands a certificate from whoever connects (clients and other silos).
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateValidation = (remote, _, errors) => errors == SslPolicyErrors.None || IsSame(remote, local);
    }

    /// <summary>The handshake already proved the peer holds the private key, so an identical certificate is one of ours.</summary>
    private static bool IsSame(X509Certificate2 remote, X509Certificate2 local) =>
        remote.RawDataMemory.Span.SequenceEqual(local.RawDataMemory.Span);
}
