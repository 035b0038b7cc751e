using System.Globalization;
using Orleans.Metadata;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Placement strategy of replicated grains. The instance the runtime uses is resolved from DI (one per grain
/// type, registered transient), not the attribute's: the replica count travels from the attribute to it through
/// the grain type's properties (<see cref="PopulateGrainProperties"/> on the attribute's instance,
/// <see cref="Initialize"/> on the runtime's).
/// </summary>
[GenerateSerializer, Immutable]
public sealed class ReplicatedPlacement : PlacementStrategy
{
    /// <summary>Grain property holding the replica count named on the attribute.</summary>
    public const string ReplicasPropertyKey = "openreplica.replicas";

    /// <summary>Marker value: the attribute named no count; use <c>ReplicatedGrainsOptions.ReplicationFactor</c>.</summary>
    public const int ReplicasFromOptions = 0;

    /// <summary>Replica count, or <see cref="ReplicasFromOptions"/>.</summary>
    [Id(0)]
    public int Replicas { get; internal set; } = ReplicasFromOptions;

    /// <inheritdoc/>
    public override void Initialize(GrainProperties properties)
    {
        base.Initialize(properties);
        if (properties.Properties.TryGetValue(ReplicasPropertyKey, out var value)
            && int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var replicas)
            && ReplicaCount.IsAllowed(replicas))
        {
            Replicas = replicas;
        }
    }

    /// <inheritdoc/>
    public override void PopulateGrainProperties(IServiceProvider services, Type grainClass, GrainType grainType, Dictionary<string, string> properties)
    {
        if (Replicas != ReplicasFromOptions)
        {
            properties[ReplicasPropertyKey] = Replicas.ToString(CultureInfo.InvariantCulture);
        }

        base.PopulateGrainProperties(services, grainClass, grainType, properties);
    }

    /// <summary>The strategy and its replica count, for logs.</summary>
    public override string ToString() => $"ReplicatedPlacement(Replicas={(Replicas == ReplicasFromOptions ? "options" : Replicas)})";
}
