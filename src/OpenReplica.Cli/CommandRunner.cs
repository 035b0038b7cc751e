using System.CommandLine;
using System.CommandLine.Invocation;

namespace OpenReplica.Cli;

/// <summary>Parses and invokes a command line with the tool's conventions: parse errors exit with
/// <see cref="ExitCodes.BadInput"/>, unexpected exceptions are reported in one line (no stack trace).</summary>
public static class CommandRunner
{
    /// <summary>Runs <paramref name="root"/> with <paramref name="args"/>, writing to the given writers; returns the exit code.</summary>
    public static int Run(RootCommand root, string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            var parse = root.Parse(args);
            if (parse.Action is ParseErrorAction)
            {
                foreach (var e in parse.Errors)
                {
                    error.WriteLine($"openreplica: {e.Message}");
                }

                error.WriteLine("Try 'openreplica --help'.");
                return ExitCodes.BadInput;
            }

            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            error.WriteLine($"openreplica: internal error: {e.GetType().Name}: {e.Message}");
            return ExitCodes.InternalError;
        }
    }
}
