using Orleans.Placement;

namespace OpenReplica.Orleans;

/// <summary>
/// Marks a grain class as replicated: every call is chosen into the grain's own Paxos log before it runs,
/// and the activation is placed on a live silo of the grain's replica set.
/// <see cref="ReplicatedGrain{TState}"/> already carries this attribute with the default count;
/// put it on the derived class only to choose 5 or 7 replicas.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = true)]
public sealed class ReplicatedAttribute : PlacementAttribute
{
    /// <summary>The replica count used when the attribute does not name one.</summary>
    public const int DefaultReplicas = 3;

    /// <summary>Marks the class replicated with the replica count of <see cref="ReplicatedGrainsOptions.ReplicationFactor"/> (unless <see cref="Replicas"/> is set).</summary>
    public ReplicatedAttribute()
        : base(new ReplicatedPlacement())
    {
    }

    /// <summary>
    /// Number of replicas holding the grain's log: 3, 5 or 7; anything else throws <see cref="ArgumentException"/>.
    /// When not set, the silo's <c>ReplicatedGrainsOptions.ReplicationFactor</c> applies (3 unless configured).
    /// </summary>
    public int Replicas
    {
        get => Strategy.Replicas == ReplicatedPlacement.ReplicasFromOptions ? DefaultReplicas : Strategy.Replicas;
        set
        {
            ReplicaCount.Validate(value, nameof(Replicas));
            Strategy.Replicas = value;
        }
    }

    private ReplicatedPlacement Strategy => (ReplicatedPlacement)PlacementStrategy;
}
