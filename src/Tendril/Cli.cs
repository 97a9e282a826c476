using System.CommandLine;
using Tendril.Storage;

namespace Tendril;

/// <summary>
/// The <c>tendril</c> command line: <c>init</c>, <c>serve</c>, <c>adduser</c>, <c>passwd</c>, <c>deluser</c>, <c>users</c>.
/// Exit codes: 0 success, 1 an error the user can fix (bad JID, user exists, bad configuration...), 2 usage error.
/// </summary>
public static class Cli
{
    /// <summary>Runs the command line with the process console (interactive password prompts when stdin is a terminal).</summary>
    public static Task<int> Run(string[] args)
        => Run(args, Console.In, Console.Out, Console.Error, stdinIsTerminal: !Console.IsInputRedirected, CancellationToken.None);

    /// <summary>
    /// Runs the command line in-process against the given streams; <paramref name="stdin"/> is treated as redirected
    /// (a password is its first line). <paramref name="cancellationToken"/> stops <c>serve</c>.
    /// </summary>
    public static Task<int> Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
        => Run(args, stdin, stdout, stderr, stdinIsTerminal: false, cancellationToken);

    private static async Task<int> Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, bool stdinIsTerminal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var context = new CliContext(stdin, stdout, stderr, stdinIsTerminal);
        var root = BuildCommands(context);
        // No response files: "@file" tokens would otherwise be expanded, and a JID typo like "@example.org" misread.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            if (parse.CommandResult.Command == root)
            {
                // No command, or one that is not ours: say so in these words (System.CommandLine would first say
                // "Required command was not provided." for a misspelt one) and list the commands.
                var commands = string.Join(", ", root.Subcommands.Select(c => c.Name));
                await stderr.WriteLineAsync(parse.UnmatchedTokens.Count > 0
                    ? $"tendril: unknown command '{parse.UnmatchedTokens[0]}'; the commands are {commands}."
                    : $"tendril: no command given; the commands are {commands}.");
            }
            else
            {
                foreach (var error in parse.Errors) await stderr.WriteLineAsync($"tendril: {error.Message}");
            }
            await stderr.WriteLineAsync("Run 'tendril --help' for usage.");
            return ExitCodes.Usage;
        }

        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            // serve relies on the generic host's console lifetime for Ctrl+C / SIGTERM.
            ProcessTerminationTimeout = null,
        };
        return await parse.InvokeAsync(invocation, cancellationToken);
    }

    private static RootCommand BuildCommands(CliContext context)
    {
        var config = new Option<string?>("--config", "-c")
        {
            Description = $"Configuration file (default: ${CliConfiguration.ConfigEnvironmentVariable}, else ./{CliConfiguration.DefaultFileName} when present).",
            HelpName = "PATH",
            Recursive = true,
        };
        var root = new RootCommand("Tendril XMPP server.") { config };

        var domain = new Argument<string>("DOMAIN") { Description = "The XMPP domain to host, e.g. example.org." };
        var data = new Option<string?>("--data", "-d") { Description = "Data folder (default: data).", HelpName = "DIR" };
        var force = new Option<bool>("--force", "-f") { Description = "Overwrite an existing configuration file and certificate." };
        var storage = new Option<string?>("--storage")
        {
            Description = "Storage backend: sqlite (default, a file in the data folder) or postgres.",
            HelpName = "sqlite|postgres",
        };
        storage.AcceptOnlyFromAmong("sqlite", "postgres");
        var postgres = new Option<string?>("--postgres")
        {
            Description = "PostgreSQL connection string (implies --storage postgres), e.g. \"Host=db;Database=tendril;Username=tendril\". "
                + "Keep the password out of it: give it with Tendril__Storage__PostgresPassword (merged in) or ~/.pgpass.",
            HelpName = "CONNECTION",
        };
        var init = new Command("init", "Write a tendril.json for DOMAIN and a self-signed certificate into the data folder.") { domain, data, force, storage, postgres };
        init.SetAction((parse, ct) => Guard(context, () => InitCommand.RunAsync(context,
            parse.GetValue(config), parse.GetRequiredValue(domain), parse.GetValue(data), parse.GetValue(force),
            parse.GetValue(storage), parse.GetValue(postgres))));
        root.Add(init);

        var serve = new Command("serve", "Run the server until Ctrl+C or SIGTERM.");
        serve.SetAction((parse, ct) => Guard(context, () => ServeCommand.RunAsync(context, parse.GetValue(config), ct)));
        root.Add(serve);

        Command UserCommand(string name, string description, Func<UserCommands, string, string?, Task<int>> action, bool withPassword)
        {
            var jid = new Argument<string>("JID") { Description = "The account's bare JID, e.g. juliet@example.org." };
            var command = new Command(name, description) { jid };
            Option<string?>? passwordFile = null;
            if (withPassword)
            {
                passwordFile = new Option<string?>("--password-file")
                {
                    Description = "Read the password from the first line of this file instead of stdin.",
                    HelpName = "PATH",
                };
                command.Add(passwordFile);
            }
            command.SetAction((parse, ct) => Guard(context, () => action(
                new UserCommands(context, parse.GetValue(config), ct),
                parse.GetRequiredValue(jid),
                passwordFile is null ? null : parse.GetValue(passwordFile))));
            return command;
        }

        root.Add(AddUserCommand());
        root.Add(UserCommand("passwd", "Change an account's password. The password is read from stdin (prompted twice on a terminal).",
            (users, jid, file) => users.PasswdAsync(jid, file), withPassword: true));
        root.Add(UserCommand("deluser", "Delete an account and everything stored for it.",
            (users, jid, _) => users.DeleteAsync(jid), withPassword: false));

        Command AddUserCommand()
        {
            var jid = new Argument<string?>("JID") { Description = "The account's bare JID, e.g. juliet@example.org.", Arity = ArgumentArity.ZeroOrOne };
            var passwordFile = new Option<string?>("--password-file")
            {
                Description = "Read the password from the first line of this file instead of stdin.",
                HelpName = "PATH",
            };
            var batch = new Option<bool>("--batch")
            {
                Description = "Create many accounts: read 'JID PASSWORD' lines from stdin (the password is the rest of the line).",
            };
            var command = new Command("adduser", "Create an account. The password is read from stdin (prompted twice on a terminal).") { jid, passwordFile, batch };
            command.Validators.Add(result =>
            {
                var hasJid = result.GetValue(jid) is not null;
                if (result.GetValue(batch))
                {
                    if (hasJid || result.GetValue(passwordFile) is not null) result.AddError("--batch reads JIDs and passwords from stdin: give no JID and no --password-file.");
                }
                else if (!hasJid)
                {
                    result.AddError("Required argument missing for command: 'adduser' (JID).");
                }
            });
            command.SetAction((parse, ct) => Guard(context, () =>
            {
                var users = new UserCommands(context, parse.GetValue(config), ct);
                return parse.GetValue(batch) ? users.AddBatchAsync() : users.AddAsync(parse.GetValue(jid)!, parse.GetValue(passwordFile));
            }));
            return command;
        }

        var list = new Command("users", "List the accounts of the configured domain, one bare JID per line.");
        list.SetAction((parse, ct) => Guard(context, () => new UserCommands(context, parse.GetValue(config), ct).ListAsync()));
        root.Add(list);
        return root;
    }

    /// <summary>Turns the failures a user can act on into one line on stderr and exit code 1.</summary>
    private static async Task<int> Guard(CliContext context, Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (CliException e)
        {
            await context.Stderr.WriteLineAsync($"tendril: {e.Message}");
            return e.ExitCode;
        }
        catch (StorageException e)
        {
            await context.Stderr.WriteLineAsync($"tendril: storage error: {e.Message}");
            return ExitCodes.UserError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await context.Stderr.WriteLineAsync($"tendril: {e.Message}");
            return ExitCodes.UserError;
        }
    }
}

internal sealed record CliContext(TextReader Stdin, TextWriter Stdout, TextWriter Stderr, bool StdinIsTerminal);
