using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tendril.Server.Configuration;

namespace Tendril.Server.Tls;

/// <summary>
/// Supplies the server's TLS certificate.
/// </summary>
/// <remarks>
/// When <see cref="TlsOptions.CertificatePath"/> is set, the PEM certificate (optionally followed by its chain) and the
/// PEM private key (<see cref="TlsOptions.KeyPath"/>, or the certificate file itself when empty) are loaded.
/// Otherwise <c>{DataDirectory}/certs/{Domain}.crt</c> and <c>.key</c> are used, and created with a self-signed
/// certificate on first use. The certificate is loaded once and cached; the provider is thread-safe.
/// </remarks>
public sealed class CertificateProvider
{
    private static readonly TimeSpan SelfSignedValidity = TimeSpan.FromDays(3652);

    private readonly TendrilOptions _options;
    private readonly ILogger _logger;
    private readonly Lazy<(X509Certificate2 Certificate, X509Certificate2Collection Chain)> _loaded;

    public CertificateProvider(TendrilOptions options, ILogger<CertificateProvider>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The certificate with its private key, usable by <see cref="SslStream"/>. Throws <see cref="InvalidOperationException"/> on unreadable files.</summary>
    public X509Certificate2 GetCertificate() => _loaded.Value.Certificate;

    /// <summary>Certificates following the leaf in the PEM file (intermediates), sent to peers during the handshake.</summary>
    public X509Certificate2Collection GetChain() => _loaded.Value.Chain;

    /// <summary>A context for <see cref="SslServerAuthenticationOptions.ServerCertificateContext"/>, including the chain.</summary>
    public SslStreamCertificateContext CreateStreamCertificateContext()
        => SslStreamCertificateContext.Create(GetCertificate(), GetChain(), offline: true);

    /// <summary>Where the generated certificate and key for <paramref name="domain"/> live under <paramref name="dataDirectory"/>.</summary>
    public static (string CertificatePath, string KeyPath) DefaultPaths(string dataDirectory, string domain)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        ArgumentException.ThrowIfNullOrWhiteSpace(domain);
        if (domain.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || domain is "." or "..")
            throw new InvalidOperationException($"The domain '{domain}' cannot be used as a certificate file name.");
        var folder = Path.Combine(dataDirectory, "certs");
        return (Path.Combine(folder, domain + ".crt"), Path.Combine(folder, domain + ".key"));
    }

    /// <summary>
    /// Creates a self-signed ECDSA P-256 certificate: subject CN=<paramref name="domain"/>, SAN dNSName
    /// <paramref name="domain"/> and <c>*.</c><paramref name="domain"/>, EKU serverAuth and clientAuth
    /// (server-to-server connections authenticate as TLS clients), valid from yesterday for 10 years.
    /// </summary>
    public static X509Certificate2 CreateSelfSigned(string domain)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(domain);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(domain);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);

        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(domain);
        san.AddDnsName("*." + domain);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication"), new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));

        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.Add(SelfSignedValidity));
    }

    /// <summary>
    /// Writes the certificate and its private key as PEM (PKCS#8 key). The key file is created readable by the owner
    /// only (mode 600) on Unix. Folders are created as needed; existing files are overwritten.
    /// </summary>
    public static void WritePem(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentException.ThrowIfNullOrWhiteSpace(certificatePath);
        ArgumentException.ThrowIfNullOrWhiteSpace(keyPath);
        AsymmetricAlgorithm key = (AsymmetricAlgorithm?)certificate.GetECDsaPrivateKey()
            ?? (AsymmetricAlgorithm?)certificate.GetRSAPrivateKey()
            ?? throw new ArgumentException("The certificate has no ECDSA or RSA private key.", nameof(certificate));
        string keyPem;
        using (key)
        {
            keyPem = key.ExportPkcs8PrivateKeyPem();
        }

        CreateFolderOf(certificatePath);
        CreateFolderOf(keyPath);
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");

        var streamOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) streamOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(keyPath, System.Text.Encoding.ASCII, streamOptions))
        {
            writer.Write(keyPem);
            writer.Write('\n');
        }
        // UnixCreateMode applies only to new files; tighten an existing one too.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>
    /// Loads a PEM certificate and key (the key may be in <paramref name="certificatePath"/> when
    /// <paramref name="keyPath"/> is null or empty) in a form <see cref="SslStream"/> can use on every platform.
    /// Throws <see cref="InvalidOperationException"/> naming the file on failure.
    /// </summary>
    public static X509Certificate2 LoadPem(string certificatePath, string? keyPath = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(certificatePath);
        if (string.IsNullOrWhiteSpace(keyPath)) keyPath = null;
        if (!File.Exists(certificatePath))
            throw new InvalidOperationException($"TLS certificate file not found: {Path.GetFullPath(certificatePath)}");
        if (keyPath is not null && !File.Exists(keyPath))
            throw new InvalidOperationException($"TLS private key file not found: {Path.GetFullPath(keyPath)}");
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            if (!pem.HasPrivateKey)
                throw new InvalidOperationException($"No private key for the TLS certificate {Path.GetFullPath(certificatePath)} in {Path.GetFullPath(keyPath ?? certificatePath)}");
            // A PEM-loaded key is ephemeral; SslStream (SChannel, and OpenSSL for some operations) needs a persisted
            // key, so round-trip through PKCS#12.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidOperationException(
                $"Cannot load the TLS certificate {Path.GetFullPath(certificatePath)}" +
                (keyPath is null ? "" : $" with key {Path.GetFullPath(keyPath)}") + $": {e.Message}", e);
        }
    }

    private (X509Certificate2, X509Certificate2Collection) Load()
    {
        string certificatePath, keyPath;
        bool generated = false;
        if (!string.IsNullOrWhiteSpace(_options.Tls.CertificatePath))
        {
            certificatePath = _options.Tls.CertificatePath;
            keyPath = _options.Tls.KeyPath;
        }
        else
        {
            (certificatePath, keyPath) = DefaultPaths(_options.DataDirectory, _options.Domain);
            bool haveCertificate = File.Exists(certificatePath), haveKey = File.Exists(keyPath);
            if (haveCertificate != haveKey)
            {
                var (present, missing) = haveCertificate ? (certificatePath, keyPath) : (keyPath, certificatePath);
                throw new InvalidOperationException(
                    $"Found {Path.GetFullPath(present)} but not {Path.GetFullPath(missing)}; restore it or delete both to generate a new self-signed certificate.");
            }
            if (!haveCertificate)
            {
                try
                {
                    using var created = CreateSelfSigned(_options.Domain);
                    WritePem(created, certificatePath, keyPath);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new InvalidOperationException($"Cannot write the self-signed certificate to {Path.GetFullPath(certificatePath)}: {e.Message}", e);
                }
                generated = true;
            }
        }

        var certificate = LoadPem(certificatePath, keyPath);
        var chain = LoadChain(certificatePath, certificate);
        if (generated)
            _logger.LogWarning("Generated a self-signed TLS certificate for {Domain} at {Path}; clients will not trust it until you install a real one (Tendril:Tls:CertificatePath)",
                _options.Domain, Path.GetFullPath(certificatePath));
        _logger.LogInformation("Using TLS certificate {Subject} (thumbprint {Thumbprint}, valid until {NotAfter:u}) from {Path}",
            certificate.Subject, certificate.Thumbprint, certificate.NotAfter.ToUniversalTime(), Path.GetFullPath(certificatePath));
        var now = DateTime.Now;
        if (certificate.NotAfter < now || certificate.NotBefore > now)
            _logger.LogWarning("The TLS certificate {Subject} is not valid now (valid {NotBefore:u} to {NotAfter:u})",
                certificate.Subject, certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime());
        if (!certificate.MatchesHostname(_options.Domain, allowWildcards: true, allowCommonName: true))
            _logger.LogWarning("The TLS certificate {Subject} does not name the domain {Domain}", certificate.Subject, _options.Domain);
        return (certificate, chain);
    }

    private static X509Certificate2Collection LoadChain(string certificatePath, X509Certificate2 leaf)
    {
        var all = new X509Certificate2Collection();
        try
        {
            all.ImportFromPemFile(certificatePath);
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException($"Cannot read the certificate chain in {Path.GetFullPath(certificatePath)}: {e.Message}", e);
        }
        var chain = new X509Certificate2Collection();
        foreach (var certificate in all)
        {
            if (certificate.Thumbprint == leaf.Thumbprint) certificate.Dispose();
            else chain.Add(certificate);
        }
        return chain;
    }

    private static void CreateFolderOf(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
    }
}
