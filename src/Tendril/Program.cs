namespace Tendril;

internal static class Program
{
    private static Task<int> Main(string[] args) => Cli.Run(args);
}
