using Microsoft.Extensions.Configuration;
using Tendril.Protocol;
using Tendril.Server.Configuration;

namespace Tendril;

/// <summary>A failure the user can fix; reported as one line on stderr with the exit code.</summary>
internal sealed class CliException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// Loads the configuration: the JSON file (<c>--config</c>, else <c>TENDRIL_CONFIG</c>, else <c>tendril.json</c> in the
/// working directory when present, else none), then environment variables (<c>Tendril__C2s__Port=5222</c>), bound to
/// <see cref="TendrilOptions"/> from the <c>Tendril</c> section and validated.
/// </summary>
internal static class CliConfiguration
{
    public const string DefaultFileName = "tendril.json";
    public const string ConfigEnvironmentVariable = "TENDRIL_CONFIG";

    /// <summary>The config file to read, or null when none is given and <c>tendril.json</c> does not exist.</summary>
    public static string? ResolvePath(string? option)
    {
        if (!string.IsNullOrWhiteSpace(option)) return Path.GetFullPath(option);
        var fromEnvironment = Environment.GetEnvironmentVariable(ConfigEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) return Path.GetFullPath(fromEnvironment);
        var local = Path.GetFullPath(DefaultFileName);
        return File.Exists(local) ? local : null;
    }

    /// <summary>Where <c>tendril init</c> writes: the same resolution, defaulting to ./tendril.json.</summary>
    public static string ResolveInitPath(string? option) => ResolvePath(option) ?? Path.GetFullPath(DefaultFileName);

    public static ConfigurationManager Build(string? configOption)
    {
        var path = ResolvePath(configOption);
        var configuration = new ConfigurationManager();
        if (path is not null)
        {
            if (!File.Exists(path)) throw new CliException(ExitCodes.UserError, $"Configuration file not found: {path}");
            try
            {
                configuration.AddJsonFile(path, optional: false, reloadOnChange: false);
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or IOException or System.Text.Json.JsonException)
            {
                throw new CliException(ExitCodes.UserError, $"Cannot read the configuration file {path}: {Flatten(e)}", e);
            }
        }
        configuration.AddEnvironmentVariables();
        return configuration;
    }

    /// <summary>The features' options types, as the server's feature list declares them.</summary>
    private static readonly IReadOnlyList<FeatureOptionsType> FeatureOptions = Tendril.Server.Hosting.TendrilServerExtensions.FeatureOptionsTypes(new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddTendrilFeatures());

    public static TendrilOptions Bind(IConfiguration configuration)
    {
        TendrilOptions options;
        try
        {
            options = TendrilOptionsBinder.Bind(configuration, FeatureOptions);
            options.Validate();
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(ExitCodes.UserError, Flatten(e), e);
        }
        return options;
    }

    /// <summary>The configured domain, normalized like a JID's domainpart.</summary>
    public static string NormalizedDomain(TendrilOptions options)
    {
        try
        {
            var jid = Jid.Parse(options.Domain);
            if (!jid.IsDomain) throw new FormatException("not a bare domain");
            return jid.Domain;
        }
        catch (FormatException e)
        {
            throw new CliException(ExitCodes.UserError, $"Tendril:Domain '{options.Domain}' is not a valid domain: {e.Message}", e);
        }
    }

    public static string DatabasePath(TendrilOptions options) => Path.GetFullPath(Path.Combine(options.DataDirectory, options.Storage.SqlitePath));

    private static string Flatten(Exception e)
    {
        var messages = new List<string>();
        for (var current = e; current is not null; current = current.InnerException)
            if (!messages.Contains(current.Message)) messages.Add(current.Message);
        return string.Join(" ", messages);
    }
}

internal static class ExitCodes
{
    public const int Ok = 0;
    public const int UserError = 1;
    public const int Usage = 2;
}
