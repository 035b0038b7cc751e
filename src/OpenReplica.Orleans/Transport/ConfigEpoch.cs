using OpenReplica.Consensus;

namespace OpenReplica.Orleans;

/// <summary>
/// One epoch of a group's configuration history, as a replica tells a peer: the configuration and the first slot it
/// is in force from. A silo added to a group starts its replica from the whole history of the peer that named the
/// group (docs/placement.md, "A replica added to a group").
/// </summary>
/// <param name="FromSlot">The first slot the configuration is in force from.</param>
/// <param name="Members">The configuration's replica ids.</param>
[GenerateSerializer, Immutable]
public sealed record ConfigEpoch(
    [property: Id(0)] long FromSlot,
    [property: Id(1)] long[] Members)
{
    /// <summary>The epochs of <paramref name="history"/>, to send.</summary>
    public static ConfigEpoch[] Of(ConfigHistory history) =>
        [.. history.Epochs.Select(e => new ConfigEpoch(e.FromSlot, [.. e.Config.Members]))];

    /// <summary>
    /// The history a peer sent: its epochs, or, from a peer that sends none, its newest configuration alone, known
    /// from the slot it is in force from (the replica then learns the older ones from the log).
    /// </summary>
    public static ConfigHistory History(ConfigEpoch[]? epochs, long[] latest, long latestFromSlot) =>
        epochs is { Length: > 0 }
            ? ConfigHistory.FromEpochs(epochs.Select(e => (e.FromSlot, new ClusterConfig(e.Members))))
            : ConfigHistory.FromEpochs([(Math.Max(1, latestFromSlot), new ClusterConfig(latest))]);
}
