using OpenReplica.LoadTest.External;

namespace OpenReplica.LoadTest;

/// <summary>Scenario 4's target: etcd keys through dotnet-etcd, a put as the write and a linearizable get as the read.</summary>
internal sealed class EtcdKeys(EtcdTarget etcd, int count) : ILoadTarget
{
    // The same names as the grains: "hot", or k-0 ... k-(count-1).
    private readonly string[] _keys = count == 1 ? ["hot"] : [.. Enumerable.Range(0, count).Select(i => $"k-{i}")];

    public int Count => _keys.Length;

    public Task WriteAsync(int index) => etcd.PutAsync(_keys[index], CancellationToken.None);

    public Task ReadAsync(int index) => etcd.GetAsync(_keys[index], CancellationToken.None);
}
