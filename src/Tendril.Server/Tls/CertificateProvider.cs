// Placeholder replaced by the storage branch's implementation at merge.
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Tendril.Server.Configuration;

namespace Tendril.Server.Tls;

public sealed class CertificateProvider(TendrilOptions options, ILogger? logger = null)
{
    public X509Certificate2 GetCertificate() => throw new NotImplementedException(options.Domain + logger);
}
