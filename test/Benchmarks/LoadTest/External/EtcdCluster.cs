using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace OpenReplica.LoadTest.External;

/// <summary>
/// A real etcd cluster (Debian's etcd-server, one process per member) on 127.0.0.1: a static initial cluster on free
/// client and peer ports, each member's data under the work directory; ready once every member reports a leader.
/// </summary>
public sealed class EtcdCluster : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly ServerProcess[] _members;
    private readonly ServerDirectory _directory;

    private EtcdCluster(ServerProcess[] members, ServerDirectory directory, string[] clientUrls, string version)
    {
        _members = members;
        _directory = directory;
        ClientUrls = clientUrls;
        Version = version;
        // Nothing is passed that touches durability or timing: a member fsyncs its WAL before acknowledging (etcd
        // offers no switch for that), and these are 3.4's defaults.
        Settings = $"{members.Length} members, static cluster on 127.0.0.1, WAL fsync per commit, " +
                   "heartbeat 100 ms, election timeout 1000 ms, snapshot-count 100000 (defaults)";
    }

    /// <summary>The members' client URLs ("http://127.0.0.1:port"), for <see cref="EtcdTarget.Connect"/>.</summary>
    public IReadOnlyList<string> ClientUrls { get; }

    /// <summary>"etcd 3.4.23".</summary>
    public string Version { get; }

    /// <summary>The settings the members run with, for the benchmark's doc.</summary>
    public string Settings { get; }

    public string LogDirectory => _directory.Root;

    public static async Task<EtcdCluster> StartAsync(string workDirectory, int members, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(members, 1);
        var binary = await DebianBinaries.RequireAsync(DebianBinaries.Etcd, ct);
        var directory = ServerDirectory.Create(workDirectory, "etcd");
        var ports = LoopbackPorts.Free(2 * members);
        var names = Enumerable.Range(0, members).Select(i => $"m{i}").ToArray();
        var clientUrls = Enumerable.Range(0, members).Select(i => $"http://127.0.0.1:{ports[i]}").ToArray();
        var peerUrls = Enumerable.Range(0, members).Select(i => $"http://127.0.0.1:{ports[members + i]}").ToArray();
        var initialCluster = string.Join(',', names.Zip(peerUrls, (name, url) => $"{name}={url}"));

        var started = new List<ServerProcess>();
        try
        {
            for (int i = 0; i < members; i++)
            {
                string[] arguments =
                [
                    "--name", names[i], "--data-dir", Path.Combine(directory.Data, names[i]),
                    "--listen-client-urls", clientUrls[i], "--advertise-client-urls", clientUrls[i],
                    "--listen-peer-urls", peerUrls[i], "--initial-advertise-peer-urls", peerUrls[i],
                    "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
                    // A token unique to this run: members of an older cluster left running cannot join this one.
                    "--initial-cluster-token", Path.GetFileName(directory.Root),
                    "--logger", "zap", "--log-outputs", "stderr",
                ];
                started.Add(ServerProcess.Start($"etcd member {names[i]}", binary, arguments, directory.Root, directory.LogFor($"etcd-{names[i]}")));
            }

            // Every member must be up and see a leader: a caller may be routed to any of them.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await Task.WhenAll(started.Select((member, i) =>
                member.WaitUntilReadyAsync(t => IsHealthyAsync(http, clientUrls[i], t), StartTimeout, ct)));
            var version = await http.GetFromJsonAsync<VersionReply>($"{clientUrls[0]}/version", ct);
            return new EtcdCluster([.. started], directory, clientUrls, $"etcd {version?.Server}");
        }
        catch
        {
            await StopAsync(started, directory);
            throw;
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync(_members, _directory));

    private static async Task StopAsync(IEnumerable<ServerProcess> members, ServerDirectory directory)
    {
        await Task.WhenAll(members.Select(m => m.DisposeAsync().AsTask()));
        directory.DeleteData();
    }

    /// <summary>etcd's /health answers true only while the member has a leader (and no alarm).</summary>
    private static async Task<bool> IsHealthyAsync(HttpClient http, string clientUrl, CancellationToken ct)
    {
        var reply = await http.GetFromJsonAsync<HealthReply>($"{clientUrl}/health", ct);
        return reply?.Health == "true";
    }

    private sealed record HealthReply([property: JsonPropertyName("health")] string? Health);

    private sealed record VersionReply([property: JsonPropertyName("etcdserver")] string? Server);
}
