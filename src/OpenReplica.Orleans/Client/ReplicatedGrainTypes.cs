using System.Collections.Concurrent;
using Orleans.Metadata;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Whether a grain type is replicated (placed by <see cref="ReplicatedPlacement"/>), asked by the stamping filter on
/// every outgoing call. The answer comes from the cluster manifest (a search through every silo's grain manifest and a
/// property lookup); it is kept per grain type until the manifest changes, so a call pays one dictionary lookup.
/// </summary>
internal sealed class ReplicatedGrainTypes(IClusterManifestProvider manifests, GrainPropertiesResolver grainProperties)
{
    private Answers _answers = new(null);

    public bool IsReplicated(GrainType grainType)
    {
        var manifest = manifests.Current;
        var answers = _answers;
        if (!ReferenceEquals(answers.Manifest, manifest))
        {
            // A new manifest (a silo joined or left, a type appeared): ask it afresh. A lookup racing with the swap may
            // keep an answer of the newer manifest under the older one, which is replaced at the next call anyway.
            _answers = answers = new Answers(manifest);
        }
        if (answers.ByType.TryGetValue(grainType, out bool replicated)) return replicated;
        replicated = grainProperties.TryGetGrainProperties(grainType, out var properties)
            && properties.Properties.TryGetValue(WellKnownGrainTypeProperties.PlacementStrategy, out var strategy)
            && strategy == nameof(ReplicatedPlacement);
        answers.ByType.TryAdd(grainType, replicated);
        return replicated;
    }

    private sealed class Answers(ClusterManifest? manifest)
    {
        public ClusterManifest? Manifest { get; } = manifest;

        public ConcurrentDictionary<GrainType, bool> ByType { get; } = new();
    }
}
