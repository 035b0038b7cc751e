using Orleans.TestingHost;

namespace OpenReplica.Orleans.Tests;

/// <summary>A shared 3-silo cluster for the tests that do not kill silos.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    internal LoseFirstReplyFilter LoseReply { get; } = new();

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Cluster = TestCluster3.Build(LoseReply);
        await Cluster.DeployAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>The tests sharing one cluster run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
