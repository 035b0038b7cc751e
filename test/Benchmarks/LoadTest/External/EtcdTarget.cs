using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;

namespace OpenReplica.LoadTest.External;

/// <summary>
/// The etcd side of the comparison, through dotnet-etcd: a put of a small value, and a linearizable get (a range read
/// with serializable=false, etcd's default: the member confirms with the leader's quorum before answering).
/// </summary>
public sealed class EtcdTarget : IAsyncDisposable
{
    private readonly EtcdClient _client;
    private long _nextValue;

    private EtcdTarget(EtcdClient client) => _client = client;

    /// <summary>
    /// One client for all members: dotnet-etcd takes them as a comma-separated list and balances calls round-robin
    /// over one HTTP/2 channel each; "http://" URLs make it use plain-text gRPC (its default credentials are insecure).
    /// </summary>
    public static EtcdTarget Connect(IReadOnlyList<string> clientUrls)
    {
        ArgumentOutOfRangeException.ThrowIfZero(clientUrls.Count);
        return new EtcdTarget(new EtcdClient(string.Join(',', clientUrls)));
    }

    /// <summary>Writes the next number of an incrementing sequence (a few bytes, like a counter's state).</summary>
    public async Task PutAsync(string key, CancellationToken ct)
    {
        var value = Interlocked.Increment(ref _nextValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await _client.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) },
            cancellationToken: ct);
    }

    /// <summary>Linearizable read of <paramref name="key"/>.</summary>
    public async Task GetAsync(string key, CancellationToken ct)
    {
        await _client.GetAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(key), Serializable = false },
            cancellationToken: ct);
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
