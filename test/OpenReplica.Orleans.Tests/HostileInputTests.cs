using System.Net;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Consensus messages a silo must not act on, injected into a live cluster through the real replica host: from a
/// silo membership declared dead (a zombie), from a silo outside membership, for a group this silo is not a replica
/// of, addressed to another replica, or not decodable. Each is dropped and counted, and the follower's state does
/// not move (a forged prepare with a huge ballot would otherwise make it reject its leader).
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class HostileInputTests
{
    [Fact]
    public async Task Messages_from_dead_or_unknown_silos_for_foreign_groups_or_undecodable_are_dropped_and_counted()
    {
        await using var cluster = await FaultCluster.StartAsync(4, replicationFactor: 3);
        var grain = await cluster.Cluster.AccountAwayFromFirstSiloAsync("hostile");
        for (int i = 0; i < 3; i++) await grain.Deposit(1);
        string groupId = FaultCluster.GroupOf(grain.GetGrainId());
        var leaderSilo = await grain.GetSilo();
        var leader = cluster.HandleOf(leaderSilo);
        var follower = cluster.Silos.First(s => !s.Equals(leader) && cluster.Service<ReplicationRuntime>(s).GroupOrNull(groupId) is not null);
        var bystander = cluster.Silos.First(s => !s.Equals(leader) && !s.Equals(follower) && s.InstanceNumber != 0);
        var admission = cluster.Service<InboundAdmission>(follower);
        var followerGroup = cluster.Service<ReplicationRuntime>(follower).GroupOrNull(groupId)!;
        long leaderId = cluster.Service<ReplicaRoster>(leader).LocalReplicaId;
        long followerId = cluster.Service<ReplicaRoster>(follower).LocalReplicaId;
        var promisedBefore = await followerGroup.AskAsync(core => (core.Promised, new Ready()));
        var host = cluster.Service<ReplicaHostClient>(cluster.Silos[0]).For(follower.SiloAddress);
        byte[] forgedPrepare = WireCodec.Encode(new Prepare(leaderId, followerId, new Ballot(promisedBefore.Round + 1_000_000, leaderId), 0));

        // A silo no membership view has ever listed.
        var stranger = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 1), 4242);
        await host.DeliverAsync(new ReplicaEnvelope(stranger, [new ReplicaEnvelopeItem(groupId, forgedPrepare)]));
        // Orleans' snapshot reports an address it never listed as Dead or None depending on its history; both are refused.
        await UntilCountedAsync(admission, () => OutsideMembership(admission) == 1);

        // A silo membership declared dead: what a paused or partitioned leader sends after it resumes as a zombie.
        var deadAddress = bystander.SiloAddress;
        await cluster.KillAsync(bystander);
        await Poll.UntilAsync(
            () => Task.FromResult(cluster.Service<IClusterMembershipService>(follower).CurrentSnapshot.GetSiloStatus(deadAddress) == SiloStatus.Dead),
            "the follower's membership view declared the killed silo dead");
        await host.DeliverAsync(new ReplicaEnvelope(deadAddress, [new ReplicaEnvelopeItem(groupId, forgedPrepare)]));
        await UntilCountedAsync(admission, () => OutsideMembership(admission) == 2);

        // From a live member: bytes that are not a message, a message for another replica id, and a group whose
        // replica set (2 of the 4-silo roster) leaves the follower out.
        var roster = cluster.Service<ReplicaRoster>(follower);
        var foreignGrain = Enumerable.Range(0, 1000)
            .Select(i => GrainId.Create("account", $"foreign-{i}"))
            .First(g => !roster.GenesisConfigFor(g, 2)!.Contains(followerId) && !roster.TargetConfigFor(g, 2)!.Contains(followerId));
        string foreignGroup = ReplicationRuntime.GroupIdOf(foreignGrain, 2);
        byte[] garbage = [1, 6, 0xFF, 0xFF, 0xFF, 0x7F, 9, 9];
        byte[] misaddressed = WireCodec.Encode(new Prepare(leaderId, followerId + 1, new Ballot(promisedBefore.Round + 1_000_000, leaderId), 0));
        byte[] forForeignGroup = WireCodec.Encode(new Prepare(leaderId, followerId, new Ballot(1, leaderId), 0));
        await host.DeliverAsync(new ReplicaEnvelope(leaderSilo,
        [
            new ReplicaEnvelopeItem(groupId, garbage),
            new ReplicaEnvelopeItem(groupId, misaddressed),
            new ReplicaEnvelopeItem(foreignGroup, forForeignGroup),
            new ReplicaEnvelopeItem("7|not a grain id", forForeignGroup),
        ]));
        await UntilCountedAsync(admission, () => admission.Rejected(AdmissionRejection.ForeignGroup) == 2);
        Assert.Equal(1, admission.Rejected(AdmissionRejection.Malformed));
        Assert.Equal(1, admission.Rejected(AdmissionRejection.Misaddressed));
        Assert.Null(cluster.Service<ReplicationRuntime>(follower).GroupOrNull(foreignGroup));

        // None of it moved the follower's promise, and the group still works with its leader.
        var promisedAfter = await followerGroup.AskAsync(core => (core.Promised, new Ready()));
        Assert.True(promisedAfter.Round < promisedBefore.Round + 1_000_000, $"forged ballot reached the follower: {promisedAfter}");
        Assert.Equal(4m, await Eventually.CallAsync(() => grain.Deposit(1), "deposit after the hostile messages"));
    }

    [Fact]
    public async Task A_data_directory_copied_to_a_second_silo_is_refused_at_start_naming_both()
    {
        await using var cluster = await FaultCluster.StartAsync(3);
        var grain = cluster.Client.GetGrain<IAccountGrain>("copied-dir");
        await grain.Deposit(5);
        var original = cluster.Silos[1];
        long originalId = cluster.Service<ReplicaRoster>(original).LocalReplicaId;
        string source = Path.Combine(cluster.DataRoot, original.Name);
        // The operator's mistake: the new machine gets a copy of a running silo's data directory.
        CopyDirectory(source, Path.Combine(cluster.DataRoot, "Silo_3"));

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => cluster.Cluster.StartSiloAsync(3, cluster.Cluster.Options, TestContext.Current.CancellationToken));

        string message = Flatten(failure);
        Assert.Contains("is already used by silo", message);
        Assert.Contains(original.SiloAddress.ToString(), message);
        Assert.Contains(Path.Combine(cluster.DataRoot, "Silo_3"), message);
        // The original replica is untouched and the cluster keeps serving.
        Assert.Equal(originalId, cluster.Service<ReplicaRoster>(original).LocalReplicaId);
        Assert.Equal(6m, await Eventually.CallAsync(() => grain.Deposit(1), "deposit after the refused start"));
    }

    /// <summary>Delivery is one-way: the host returns before the batch is processed, so wait for the count.</summary>
    private static Task UntilCountedAsync(InboundAdmission admission, Func<bool> counted) =>
        Poll.UntilAsync(() => Task.FromResult(counted()), $"rejections counted (now {Counts(admission)})", TimeSpan.FromSeconds(10));

    private static long OutsideMembership(InboundAdmission admission) =>
        admission.Rejected(AdmissionRejection.DeadSilo) + admission.Rejected(AdmissionRejection.UnknownSilo);

    private static string Counts(InboundAdmission admission) =>
        string.Join(", ", Enum.GetValues<AdmissionRejection>().Select(r => $"{r}={admission.Rejected(r)}"));

    private static string Flatten(Exception e) => e.InnerException is null ? e.ToString() : e + " " + Flatten(e.InnerException);

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var dir in Directory.GetDirectories(from)) CopyDirectory(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
