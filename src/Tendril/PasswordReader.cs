using System.Text;

namespace Tendril;

/// <summary>
/// Reads a new password: from <c>--password-file</c> (first line), else from an interactive terminal (twice, without
/// echo, must match), else the first line of redirected stdin. Never from the command line.
/// </summary>
internal sealed class PasswordReader(TextReader stdin, TextWriter prompt, bool stdinIsTerminal)
{
    public string Read(string? passwordFile)
    {
        string? password;
        if (!string.IsNullOrEmpty(passwordFile))
        {
            try
            {
                using var reader = new StreamReader(passwordFile);
                password = reader.ReadLine();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException(ExitCodes.UserError, $"Cannot read the password file {Path.GetFullPath(passwordFile)}: {e.Message}", e);
            }
        }
        else if (stdinIsTerminal)
        {
            password = ReadHidden("New password: ");
            if (password.Length == 0) throw new CliException(ExitCodes.UserError, "The password is empty.");
            var again = ReadHidden("Repeat password: ");
            if (!string.Equals(password, again, StringComparison.Ordinal))
                throw new CliException(ExitCodes.UserError, "The passwords do not match.");
        }
        else
        {
            password = stdin.ReadLine();
        }

        if (string.IsNullOrEmpty(password)) throw new CliException(ExitCodes.UserError, "The password is empty.");
        return password;
    }

    private string ReadHidden(string label)
    {
        prompt.Write(label);
        prompt.Flush();
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0) text.Length--;
                continue;
            }
            if (!char.IsControl(key.KeyChar)) text.Append(key.KeyChar);
        }
        prompt.WriteLine();
        return text.ToString();
    }
}
