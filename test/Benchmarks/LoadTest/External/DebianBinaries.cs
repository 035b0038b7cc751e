namespace OpenReplica.LoadTest.External;

/// <summary>
/// The server binaries, at the paths Debian's packages install them. A missing one is installed by running
/// test/Benchmarks/install-services.sh (copied next to the tool), which uses apt-get and so needs root or sudo.
/// </summary>
internal static class DebianBinaries
{
    public const string RedisServer = "/usr/bin/redis-server";
    public const string Etcd = "/usr/bin/etcd";
    public const string PostgresBin = "/usr/lib/postgresql/15/bin";

    private const string ScriptInRepo = "test/Benchmarks/install-services.sh";
    private static readonly SemaphoreSlim InstallOnce = new(1, 1); // two servers starting at once must not race on dpkg's lock

    /// <summary>Returns <paramref name="path"/> once it exists, installing the packages if it does not.</summary>
    public static async Task<string> RequireAsync(string path, CancellationToken ct)
    {
        if (File.Exists(path)) return path;
        await InstallOnce.WaitAsync(ct);
        try
        {
            if (File.Exists(path)) return path;
            var script = Path.Combine(AppContext.BaseDirectory, "External", "install-services.sh");
            if (!File.Exists(script))
            {
                throw new FileNotFoundException($"{path} is missing and so is {script}; run {ScriptInRepo} as root");
            }

            try
            {
                await Commands.RunAsync("bash", [script], TimeSpan.FromMinutes(10), ct);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                throw new InvalidOperationException($"{path} is missing and installing it failed; run {ScriptInRepo} as root. {e.Message}", e);
            }

            return File.Exists(path) ? path : throw new FileNotFoundException($"{ScriptInRepo} ran but {path} is still missing");
        }
        finally
        {
            InstallOnce.Release();
        }
    }
}
