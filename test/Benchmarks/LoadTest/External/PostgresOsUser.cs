namespace OpenReplica.LoadTest.External;

/// <summary>
/// PostgreSQL refuses to run as root, so when the tool is root, initdb and postgres run as Debian's <c>postgres</c>
/// OS user (through setpriv, which execs in place: the process the tool holds is postgres itself, so signals and
/// kills reach it) and the directories they write are handed to that user. As any other user they run as that user.
/// </summary>
internal static class PostgresOsUser
{
    private const string User = "postgres";
    private const string SetPriv = "/usr/bin/setpriv";

    public static bool Switches => Environment.IsPrivilegedProcess;

    /// <summary>The command line that runs <paramref name="binary"/> as the postgres user when the tool is root.</summary>
    public static (string FileName, string[] Arguments) Command(string binary, params string[] arguments) =>
        Switches
            ? (SetPriv, [$"--reuid={User}", $"--regid={User}", "--init-groups", "--", binary, .. arguments])
            : (binary, arguments);

    /// <summary>Gives <paramref name="directories"/> to the postgres user, after checking it can reach them at all.</summary>
    public static async Task TakeOverAsync(CancellationToken ct, params string[] directories)
    {
        if (!Switches) return;
        foreach (var directory in directories)
        {
            await Commands.RunAsync("chown", [$"{User}:{User}", directory], TimeSpan.FromSeconds(30), ct);
            var (file, arguments) = Command("/usr/bin/test", "-w", directory);
            try
            {
                await Commands.RunAsync(file, arguments, TimeSpan.FromSeconds(30), ct);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidOperationException(
                    $"PostgreSQL runs as the OS user '{User}' (the tool runs as root), and that user cannot write {directory}: " +
                    "a directory above it is closed to other users. Pick a work directory every user can traverse (for example under /tmp).", e);
            }
        }
    }
}
