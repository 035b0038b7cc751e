namespace OpenReplica.Consensus;

/// <summary>
/// The state of a group after applying every slot up to and including <see cref="Slot"/>. The core owns the
/// configuration history and the session table; the host owns <see cref="AppState"/> (its state machine).
/// </summary>
public sealed record Snapshot(long Slot, ConfigHistory Configs, SessionTable Sessions, byte[] AppState)
{
    /// <summary>The snapshot of a group before its first slot, with its first configuration.</summary>
    public static Snapshot Initial(ClusterConfig config) => new(0, ConfigHistory.Start(config), SessionTable.Empty, []);
}
