using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>The silos a starting silo asks about its replica identity (<see cref="DataDirectoryGuard"/>, <see cref="ReturnNotice"/>).</summary>
internal static class MembershipPeers
{
    /// <summary>Every silo membership lists as active now, except <paramref name="self"/>.</summary>
    public static List<SiloAddress> ActivePeers(this IClusterMembershipService membership, SiloAddress self) =>
        [.. membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(self))
            .Select(m => m.SiloAddress)];
}
