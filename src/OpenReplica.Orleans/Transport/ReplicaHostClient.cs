using Orleans.Runtime;
using Orleans.Runtime.Services;

namespace OpenReplica.Orleans;

/// <summary>Reaches the <see cref="IReplicaHost"/> of a given silo.</summary>
internal sealed class ReplicaHostClient(IServiceProvider services) : GrainServiceClient<IReplicaHost>(services)
{
    public IReplicaHost For(SiloAddress silo) => GetGrainService(silo);
}
