using System.Globalization;
using System.Text.Json;
using Tendril.Protocol;
using Tendril.Server.Configuration;
using Tendril.Server.Tls;

namespace Tendril;

/// <summary><c>tendril init DOMAIN</c>: writes a commented tendril.json with every default and a self-signed certificate.</summary>
internal static class InitCommand
{
    public static async Task<int> RunAsync(CliContext context, string? configOption, string domainText, string? dataOption, bool force,
        string? storageOption = null, string? postgresOption = null)
    {
        var provider = storageOption ?? (postgresOption is null ? StorageOptions.Sqlite : StorageOptions.Postgres);
        if (postgresOption is not null && provider != StorageOptions.Postgres)
            throw new CliException(ExitCodes.Usage, "--postgres needs --storage postgres (or no --storage).");
        var connectionString = postgresOption ?? "";
        if (connectionString.Length > 0)
        {
            try
            {
                new Tendril.Storage.Postgres.PostgresStorageOptions(connectionString).Validate();
            }
            catch (ArgumentException e)
            {
                throw new CliException(ExitCodes.UserError, e.Message, e);
            }
        }

        string domain;
        try
        {
            var jid = Jid.Parse(domainText);
            if (!jid.IsDomain) throw new FormatException("expected a domain, not a user or full JID");
            domain = jid.Domain;
        }
        catch (FormatException e)
        {
            throw new CliException(ExitCodes.UserError, $"Invalid domain '{domainText}': {e.Message}", e);
        }

        var configPath = CliConfiguration.ResolveInitPath(configOption);
        var dataDirectory = string.IsNullOrWhiteSpace(dataOption) ? new TendrilOptions().DataDirectory : dataOption;
        var (certificatePath, keyPath) = CertificateProvider.DefaultPaths(dataDirectory, domain);

        if (!force)
        {
            foreach (var existing in new[] { configPath, certificatePath, keyPath }.Where(File.Exists))
                throw new CliException(ExitCodes.UserError, $"{Path.GetFullPath(existing)} already exists; use --force to overwrite.");
        }

        var folder = Path.GetDirectoryName(configPath);
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(configPath, Render(domain, dataDirectory, provider, connectionString));

        using (var certificate = CertificateProvider.CreateSelfSigned(domain))
        {
            CertificateProvider.WritePem(certificate, certificatePath, keyPath);
            await context.Stdout.WriteLineAsync($"Wrote {configPath}");
            await context.Stdout.WriteLineAsync($"Wrote a self-signed certificate for {domain} (valid until {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}):");
        }
        await context.Stdout.WriteLineAsync($"  {Path.GetFullPath(certificatePath)}");
        await context.Stdout.WriteLineAsync($"  {Path.GetFullPath(keyPath)}");
        if (provider == StorageOptions.Postgres && connectionString.Length == 0)
            await context.Stdout.WriteLineAsync("Storage is PostgreSQL: set Tendril__Storage__PostgresConnectionString (or edit the file) before serving.");
        if (provider == StorageOptions.Postgres)
        {
            await context.Stdout.WriteLineAsync("The PostgreSQL password stays out of the file: export Tendril__Storage__PostgresPassword=… "
                + "(merged into the connection string) or put it in ~/.pgpass, for every tendril command.");
        }
        await context.Stdout.WriteLineAsync($"Next: tendril adduser you@{domain}, then tendril serve.");
        return ExitCodes.Ok;
    }

    /// <summary>The configuration file, with the defaults of <see cref="TendrilOptions"/> (JSON with comments, which the .NET JSON configuration provider accepts).</summary>
    internal static string Render(string domain, string dataDirectory, string provider = StorageOptions.Sqlite, string postgresConnectionString = "")
    {
        var d = new TendrilOptions();
        static string S(string value) => JsonSerializer.Serialize(value);
        static string B(bool value) => value ? "true" : "false";
        static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
        return $$"""
            {
              // Tendril configuration; every key is described in docs/configuration.md.
              // Environment variables override this file: Tendril__C2s__Port=5222.
              "Tendril": {
                // The XMPP domain this server hosts.
                "Domain": {{S(domain)}},
                // Database, generated certificate and other state; relative to the working directory.
                "DataDirectory": {{S(dataDirectory)}},
                "C2s": {
                  // Address to listen on: an IP address, "any" or "loopback".
                  "Address": {{S(d.C2s.Address)}},
                  // Client connections with STARTTLS.
                  "Port": {{I(d.C2s.Port)}},
                  // Client connections with direct TLS (XEP-0368).
                  "DirectTlsPort": {{I(d.C2s.DirectTlsPort)}},
                  "DirectTlsEnabled": {{B(d.C2s.DirectTlsEnabled)}},
                  // Refuse authentication before TLS.
                  "RequireTls": {{B(d.C2s.RequireTls)}}
                },
                "Tls": {
                  // PEM certificate (chain) and key; empty: {DataDirectory}/certs/{Domain}.crt and .key (self-signed, created if missing).
                  "CertificatePath": {{S(d.Tls.CertificatePath)}},
                  "KeyPath": {{S(d.Tls.KeyPath)}},
                  "HandshakeTimeoutSeconds": {{I(d.Tls.HandshakeTimeoutSeconds)}}
                },
                "Sasl": {
                  // PBKDF2 iterations for new SCRAM credentials (at least 4096).
                  "ScramIterations": {{I(d.Sasl.ScramIterations)}},
                  // Offer PLAIN (only ever over TLS).
                  "AllowPlain": {{B(d.Sasl.AllowPlain)}},
                  // Failed attempts before the stream is closed.
                  "MaxFailures": {{I(d.Sasl.MaxFailures)}}
                },
                "Limits": {
                  "MaxStanzaBytes": {{I(d.Limits.MaxStanzaBytes)}},
                  "MaxDepth": {{I(d.Limits.MaxDepth)}},
                  "MaxAttributes": {{I(d.Limits.MaxAttributes)}},
                  "NegotiationTimeoutSeconds": {{I(d.Limits.NegotiationTimeoutSeconds)}},
                  "IdleSeconds": {{I(d.Limits.IdleSeconds)}},
                  "PingTimeoutSeconds": {{I(d.Limits.PingTimeoutSeconds)}},
                  "OutboundQueueStanzas": {{I(d.Limits.OutboundQueueStanzas)}}
                },
                "Storage": {
                  // "sqlite" (a file, no setup) or "postgres" (several nodes, or an existing PostgreSQL).
                  "Provider": {{S(provider)}},
                  // Relative to DataDirectory.
                  "SqlitePath": {{S(d.Storage.SqlitePath)}},
                  // Npgsql connection string for "postgres", e.g. "Host=db;Database=tendril;Username=tendril".
                  // Keep the password out of this file: Tendril__Storage__PostgresPassword (merged into it) or ~/.pgpass.
                  "PostgresConnectionString": {{S(postgresConnectionString)}}
                },
                "Offline": {
                  // Messages kept per account while it is offline; beyond it senders get service-unavailable.
                  "MaxPerUser": {{I(d.Offline.MaxPerUser)}}
                }
              },
              "Logging": {
                "LogLevel": {
                  "Default": "Information",
                  "Microsoft": "Warning",
                  "Microsoft.Hosting.Lifetime": "Information"
                }
              }
            }

            """;
    }
}
