using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;

namespace OpenReplica.Packaging.Tests;

/// <summary>
/// What a user gets from NuGet: the packages are packed into a local folder feed under a version no cache can hold
/// (0.0.0-ci.*), a small program that knows OpenReplica only as package references restores from that feed with
/// its own package folder (the machine's cache serves only third-party packages, read-only), builds and runs a
/// replicated grain on the test kit's cluster; the CLI installs as a .NET tool and runs.
/// </summary>
public sealed class PackageConsumerTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(4);

    private static readonly string[] Packages =
        ["OpenReplica.Consensus", "OpenReplica.Storage", "OpenReplica.Orleans", "OpenReplica.Orleans.Testing", "OpenReplica.Coordination", "OpenReplica.Cli"];

    [Fact(Timeout = 900_000)]
    public async Task Packages_from_a_local_feed_build_and_run_a_user_program_and_the_tool()
    {
        string repo = RepositoryRoot();
        string work = Path.Combine(Path.GetTempPath(), "openreplica-pack-" + Guid.NewGuid().ToString("N")[..8]);
        string feed = Path.Combine(work, "feed");
        string version = $"0.0.0-ci.{DateTime.UtcNow:yyyyMMddHHmmss}";
        try
        {
            await RunAsync(repo, "dotnet", "pack", Path.Combine(repo, "OpenReplica.sln"), "-c", "Release", "--no-build", "-o", feed, $"-p:PackageVersion={version}");
            foreach (var id in Packages)
            {
                Assert.True(File.Exists(Path.Combine(feed, $"{id}.{version}.nupkg")), $"{id} was not packed");
                Assert.True(File.Exists(Path.Combine(feed, $"{id}.{version}.snupkg")), $"{id} has no symbol package");
            }
            CheckOrleansPackage(Path.Combine(feed, $"OpenReplica.Orleans.{version}.nupkg"), version);

            // The consumer restores into its own package folder; the machine's cache is only a read-only fallback, and it
            // cannot hold this version of our packages, so they come from the feed just packed.
            string consumer = Path.Combine(work, "consumer");
            Directory.CreateDirectory(consumer);
            string source = Path.Combine(AppContext.BaseDirectory, "Consumer");
            File.Copy(Path.Combine(source, "Consumer.csproj.txt"), Path.Combine(consumer, "Consumer.csproj"));
            File.Copy(Path.Combine(source, "Program.cs.txt"), Path.Combine(consumer, "Program.cs"));
            await File.WriteAllTextAsync(Path.Combine(consumer, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="openreplica-local" value="{feed}" />
                  </packageSources>
                </configuration>
                """, TestContext.Current.CancellationToken);
            string fallback = (await RunAsync(work, "dotnet", "nuget", "locals", "global-packages", "--list")).Split(':', 2)[1].Trim();
            var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(work, "packages") };
            string output = await RunAsync(consumer, env, "dotnet", "run", "-c", "Release", $"-p:OpenReplicaVersion={version}",
                $"-p:RestoreAdditionalProjectFallbackFolders={fallback}");
            Assert.Contains("balance=5 counter=7 silos=3", output);
            Assert.True(Directory.Exists(Path.Combine(work, "packages", "openreplica.orleans", version)), "OpenReplica.Orleans was not restored from the feed");

            string tools = Path.Combine(work, "tools");
            await RunAsync(work, env, "dotnet", "tool", "install", "OpenReplica.Cli", "--tool-path", tools, "--version", version, "--add-source", feed);
            string help = await RunAsync(work, env, Path.Combine(tools, "openreplica"), "--help");
            Assert.Contains("status", help);
            Assert.Contains("wal", help);
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The main package: license, readme, XML docs, and the core and storage as dependencies of the same version.</summary>
    private static void CheckOrleansPackage(string nupkg, string version)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("lib/net10.0/OpenReplica.Orleans.dll", entries);
        Assert.Contains("lib/net10.0/OpenReplica.Orleans.xml", entries);
        Assert.Contains("README.md", entries);
        using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        var nuspec = XDocument.Load(nuspecStream);
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal("MIT", metadata.Element(ns + "license")?.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value));
        var dependencies = metadata.Descendants(ns + "dependency").ToDictionary(d => (string)d.Attribute("id")!, d => (string)d.Attribute("version")!);
        Assert.Equal(version, dependencies["OpenReplica.Consensus"]);
        Assert.Equal(version, dependencies["OpenReplica.Storage"]);
    }

    private static Task<string> RunAsync(string directory, string file, params string[] args) => RunAsync(directory, null, file, args);

    private static async Task<string> RunAsync(string directory, Dictionary<string, string>? env, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in env ?? []) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(StepTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'{file} {string.Join(' ', args)}' did not finish within {StepTimeout.TotalMinutes} min:\n{await output}\n{await error}");
        }
        string all = (await output) + (await error);
        Assert.True(process.ExitCode == 0, $"'{file} {string.Join(' ', args)}' exited {process.ExitCode}:\n{all}");
        return all;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OpenReplica.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no OpenReplica.sln above {AppContext.BaseDirectory}");
    }
}
