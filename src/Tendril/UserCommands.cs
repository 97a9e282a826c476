using Tendril.Protocol;
using Tendril.Protocol.Sasl;
using Tendril.Server.Configuration;
using Tendril.Storage;

namespace Tendril;

/// <summary><c>adduser</c>, <c>passwd</c>, <c>deluser</c>, <c>users</c>: account administration on the configured storage.</summary>
internal sealed class UserCommands
{
    private readonly CliContext _context;
    private readonly TendrilOptions _options;
    private readonly string _domain;
    private readonly CancellationToken _cancellationToken;

    public UserCommands(CliContext context, string? configPath, CancellationToken cancellationToken)
    {
        _context = context;
        _options = CliConfiguration.Bind(CliConfiguration.Build(configPath));
        _domain = CliConfiguration.NormalizedDomain(_options);
        _cancellationToken = cancellationToken;
    }

    public async Task<int> AddAsync(string jidText, string? passwordFile)
    {
        var jid = ParseAccountJid(jidText);
        await using var storage = await OpenStorageAsync();
        if (await storage.Accounts.FindAsync(jid.Domain, jid.Local!, _cancellationToken) is not null)
            throw new CliException(ExitCodes.UserError, $"The user {Bare(jid)} already exists.");
        var password = ReadPassword(passwordFile);
        var (sha1, sha256) = Credentials(password);
        var account = new Account(jid.Local!, jid.Domain, sha1, sha256, DateTimeOffset.UtcNow);
        if (!await storage.Accounts.CreateAsync(account, _cancellationToken))
            throw new CliException(ExitCodes.UserError, $"The user {Bare(jid)} already exists.");
        await _context.Stdout.WriteLineAsync($"Created {Bare(jid)}.");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// <c>adduser --batch</c>: one storage session for many accounts, read as <c>JID PASSWORD</c> lines from stdin
    /// (blank lines and lines starting with '#' are skipped). The SCRAM derivations run on all cores. Every line is
    /// checked before anything is written; accounts that already exist are reported and skipped.
    /// </summary>
    public async Task<int> AddBatchAsync()
    {
        var entries = new List<(Jid Jid, string Password)>();
        var lineNumber = 0;
        while (await _context.Stdin.ReadLineAsync(_cancellationToken) is { } line)
        {
            lineNumber++;
            var text = line.Trim();
            if (text.Length == 0 || text[0] == '#') continue;
            var space = text.IndexOfAny([' ', '\t']);
            if (space < 0) throw new CliException(ExitCodes.UserError, $"Line {lineNumber}: expected 'JID PASSWORD'.");
            var password = text[(space + 1)..].TrimStart();
            if (password.Length == 0) throw new CliException(ExitCodes.UserError, $"Line {lineNumber}: the password is empty.");
            entries.Add((ParseAccountJid(text[..space]), password));
        }
        var accounts = new Account[entries.Count];
        var now = DateTimeOffset.UtcNow;
        Parallel.For(0, entries.Count, new ParallelOptions { CancellationToken = _cancellationToken }, i =>
        {
            var (sha1, sha256) = Credentials(entries[i].Password);
            accounts[i] = new Account(entries[i].Jid.Local!, entries[i].Jid.Domain, sha1, sha256, now);
        });
        await using var storage = await OpenStorageAsync();
        var created = 0;
        var existing = 0;
        foreach (var account in accounts)
        {
            if (await storage.Accounts.CreateAsync(account, _cancellationToken)) created++;
            else
            {
                existing++;
                await _context.Stderr.WriteLineAsync($"tendril: the user {account.Username}@{account.Domain} already exists.");
            }
        }
        await _context.Stdout.WriteLineAsync($"Created {created} accounts{(existing > 0 ? $", {existing} already existed" : "")}.");
        return existing == 0 ? ExitCodes.Ok : ExitCodes.UserError;
    }

    public async Task<int> PasswdAsync(string jidText, string? passwordFile)
    {
        var jid = ParseAccountJid(jidText);
        await using var storage = await OpenStorageAsync();
        if (await storage.Accounts.FindAsync(jid.Domain, jid.Local!, _cancellationToken) is null)
            throw new CliException(ExitCodes.UserError, $"No such user: {Bare(jid)}.");
        var password = ReadPassword(passwordFile);
        var (sha1, sha256) = Credentials(password);
        if (!await storage.Accounts.UpdateCredentialsAsync(jid.Domain, jid.Local!, sha1, sha256, _cancellationToken))
            throw new CliException(ExitCodes.UserError, $"No such user: {Bare(jid)}.");
        await _context.Stdout.WriteLineAsync($"Changed the password of {Bare(jid)}.");
        return ExitCodes.Ok;
    }

    public async Task<int> DeleteAsync(string jidText)
    {
        var jid = ParseAccountJid(jidText);
        await using var storage = await OpenStorageAsync();
        if (!await storage.Accounts.DeleteAsync(jid.Domain, jid.Local!, _cancellationToken))
            throw new CliException(ExitCodes.UserError, $"No such user: {Bare(jid)}.");
        await _context.Stdout.WriteLineAsync($"Deleted {Bare(jid)}.");
        return ExitCodes.Ok;
    }

    public async Task<int> ListAsync()
    {
        await using var storage = await OpenStorageAsync();
        foreach (var username in await storage.Accounts.ListAsync(_domain, _cancellationToken))
            await _context.Stdout.WriteLineAsync($"{username}@{_domain}");
        return ExitCodes.Ok;
    }

    /// <summary>A bare JID with a localpart, on the configured domain.</summary>
    private Jid ParseAccountJid(string text)
    {
        // One line: what is wrong and what an account JID looks like.
        if (!Jid.TryParse(text, out var jid, out var reason))
            throw new CliException(ExitCodes.UserError, $"'{text}' is not a valid JID ({reason}); an account JID looks like user@{_domain}.");
        if (jid.Local is null) throw new CliException(ExitCodes.UserError, $"Invalid JID '{text}': an account JID needs a username (user@{_domain}).");
        if (jid.Resource is not null) throw new CliException(ExitCodes.UserError, $"Invalid JID '{text}': use the bare JID, without a resource.");
        if (!string.Equals(jid.Domain, _domain, StringComparison.Ordinal))
            throw new CliException(ExitCodes.UserError, $"The JID '{text}' is not on this server's domain ({_domain}).");
        return jid;
    }

    private string ReadPassword(string? passwordFile)
        => new PasswordReader(_context.Stdin, _context.Stderr, _context.StdinIsTerminal).Read(passwordFile);

    private (ScramCredential Sha1, ScramCredential Sha256) Credentials(string password)
    {
        var iterations = _options.Sasl.ScramIterations;
        try
        {
            return (ScramCredential.Create(password, ScramHash.Sha1, iterations), ScramCredential.Create(password, ScramHash.Sha256, iterations));
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            // SASLprep rejects prohibited characters.
            throw new CliException(ExitCodes.UserError, $"The password is not acceptable: {e.Message}", e);
        }
    }

    private Task<IStorage> OpenStorageAsync() => StorageFactory.OpenAsync(_options, _cancellationToken);

    private static string Bare(Jid jid) => $"{jid.Local}@{jid.Domain}";
}
