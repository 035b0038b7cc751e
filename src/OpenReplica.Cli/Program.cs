using System.CommandLine;

namespace OpenReplica.Cli;

/// <summary>Entry point of the <c>openreplica</c> tool.</summary>
public static class Program
{
    /// <summary>
    /// The root command. Each subcommand lives in its own file with a static <c>Create()</c> factory;
    /// to add one, add a line here.
    /// </summary>
    public static RootCommand CreateRootCommand() => new("openreplica: tools for OpenReplica for Orleans")
    {
        CheckCommand.Create(),
        WalCommand.Create(),
        StatusCommand.Create(),
    };

    /// <summary>Runs the tool.</summary>
    public static int Main(string[] args) => CommandRunner.Run(CreateRootCommand(), args, Console.Out, Console.Error);
}
