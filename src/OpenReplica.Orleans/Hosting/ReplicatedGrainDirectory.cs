using Orleans.Configuration;

namespace OpenReplica.Orleans;

/// <summary>
/// The grain directory that replicated grains register their activations in: Orleans' distributed grain directory,
/// registered under its own name (<see cref="Name"/>) by <c>AddReplicatedGrains</c>; other grains keep the cluster's
/// default directory.
/// <para>
/// Why not the default directory: with it, when a silo starts to shut down (or dies), every other silo deactivates
/// each activation whose directory entry that silo held (Orleans' <c>LocalGrainDirectory</c>, "was responsible for
/// this activation's grain directory registration"): about 1/N of all activations in the cluster at every stop. For a
/// plain grain that costs a reactivation; for a replicated grain, a new activation and a campaign for its group's
/// lead, and in the rolling-replacement runs it was the slowest calls' cause (2-3 s after each stop, several failed
/// activation attempts in a row while the directory's entries moved). The distributed directory hands a stopping
/// silo's range over and recovers a dead silo's range from the live activations, without deactivating anything.
/// A duplicate activation it might allow cannot break consistency: a grain's activations serve only while they lead
/// its group (ballots), so a directory fault costs availability, never safety.
/// </para>
/// </summary>
public static class ReplicatedGrainDirectory
{
    /// <summary>The directory's name in <c>[GrainDirectory]</c> and in the silo's services.</summary>
    public const string Name = "openreplica";

    /// <summary>
    /// Turns off the distributed directory's range leases (<c>GrainDirectoryOptions.RangeLeaseDuration</c>, 30 s by
    /// default): after a silo crashes, they keep its grains from registering a new activation until 30 s after the
    /// crash, in case the silo still runs. For replicated grains that was the whole failover (26.5 s in the quickstart
    /// against 0.6 s), and it protects nothing: a grain's old activation on a silo that still runs can no longer commit
    /// once the new one's ballot is promised by a majority, and its lease reads end with its lease. The setting is the
    /// process's (Orleans has one distributed directory per silo): a cluster that also made the distributed directory
    /// its default for plain grains gets this for them too, as documented in docs/placement.md.
    /// </summary>
    internal static void DisableRangeLeases(GrainDirectoryOptions options) => options.RangeLeaseDuration = TimeSpan.Zero;
}
