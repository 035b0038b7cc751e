using OpenReplica.Orleans.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The public status API on a real Persisted cluster: a healthy cluster reports its roster, each silo's identity and
/// data directory, the groups' leaders and no lag; a killed roster silo shows as a pending replacement with its
/// replicas lagging; restarted with its data directory, it is the same replica and the cluster is healthy again.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ClusterStatusTests
{
    [Fact]
    public async Task Status_reports_roster_leaders_and_a_dead_replica_until_it_returns()
    {
        await using var cluster = await ReplicatedTestCluster.StartAsync(o => o.Mode = ReplicationMode.Persisted);
        var grain = await cluster.Cluster.AccountAwayFromFirstSiloAsync("status");
        var leaderSilo = await grain.GetSilo();
        await grain.Deposit(5);
        await cluster.Client.GetGrain<IAccountGrain>("status-other").Deposit(1);

        // The meta group elects its leader on its own schedule after start-up: wait until the status shows one.
        var healthy = await PollStatusAsync(cluster, s => s.Healthy && s.Leaders.Any(l => l.Group == "roster"), "a healthy status with the roster's leader");
        Assert.Equal(0, healthy.RosterVersion);
        Assert.Equal(3, healthy.Roster.Length);
        Assert.Equal(3, healthy.Silos.Length);
        Assert.All(healthy.Silos, s =>
        {
            Assert.Equal(ReplicationMode.Persisted, s.Mode);
            Assert.StartsWith(Path.GetFullPath(cluster.DataRoot!), s.DataDirectory);
            Assert.True(s.InRoster);
        });
        Assert.Equal(healthy.Roster.Select(m => m.ReplicaId).Order(), healthy.Silos.Select(s => s.ReplicaId).Order());
        // Every activation leads its group (the search for a grain off the first silo may have activated more than two).
        Assert.True(healthy.Silos.Sum(s => s.GroupsActive) >= 2);
        Assert.Equal(healthy.Silos.Sum(s => s.GroupsActive), healthy.Leaders.Count(l => l.Group != "roster"));
        var groupOfGrain = FaultCluster.GroupOf(grain.GetGrainId());
        var leader = Assert.Single(healthy.Leaders, l => l.Group == groupOfGrain);
        Assert.Equal(leaderSilo.ToString(), leader.Silo);
        Assert.True(leader.CommitIndex >= 1);
        Assert.Contains(healthy.Leaders, l => l.Group == "roster");
        Assert.False(healthy.ReplacementPending);
        // Each silo's rebalancer makes one pass over the roster it starts with; then nothing is pending.
        var settled = await PollStatusAsync(cluster, s => s.Healthy && !s.RebalancePending, "every silo's rebalancer settled on the roster");
        Assert.All(settled.Silos, s =>
        {
            Assert.Equal(settled.RosterVersion, s.RebalancedRosterVersion);
            Assert.Equal(0, s.GroupsMisplaced);
            Assert.Equal(0, s.MovesFailed);
        });
        await StatusCommandAgreesAsync(cluster, healthy);

        // Kill a follower of the grain's group (not the cluster's first silo, which anchors the in-process cluster).
        var victim = cluster.Silos.First(s => !s.SiloAddress.Equals(leaderSilo) && !s.SiloAddress.Equals(cluster.Cluster.Silos[0].SiloAddress));
        long victimReplica = healthy.Silos.Single(s => s.Silo == victim.SiloAddress.ToString()).ReplicaId;
        var dead = await cluster.KillSiloAsync(victim);
        await grain.Deposit(1); // chosen by the two live replicas

        var degraded = await PollStatusAsync(cluster, s => s.ReplacementPending && s.Lagging.Any(l => l.Group == groupOfGrain), "the dead replica reported");
        Assert.False(degraded.Healthy);
        Assert.Contains(degraded.Roster, m => m.ReplicaId == victimReplica && !m.Live && m.Silo is null);
        Assert.Contains(degraded.Lagging, l => l.Group == groupOfGrain && l.ReplicaId == victimReplica && l.Silo is null);
        Assert.Equal(2, degraded.Silos.Length);
        Assert.False(degraded.RebalancePending); // within the grace period the roster keeps the dead replica: nothing moves

        var back = await cluster.RestartSiloAsync(dead);
        await grain.Deposit(1); // the restarted follower catches up from the leader
        var recovered = await PollStatusAsync(cluster, s => s.Healthy, "healthy again after the restart");
        var returned = recovered.Silos.Single(s => s.Silo == back.SiloAddress.ToString());
        Assert.Equal(victimReplica, returned.ReplicaId); // same data directory: same replica
        Assert.True(returned.Restored);
        Assert.Equal(7, await grain.GetBalance());
    }

    /// <summary><c>openreplica status</c> rejects bad input with a message naming the option.</summary>
    private static async Task StatusCommandAgreesAsync(ReplicatedTestCluster cluster, ReplicatedClusterStatus expected)
    {
        // The in-process cluster's silos talk over an in-memory transport, so the CLI cannot connect to them here;
        // OpenReplica.Deploy.Tests.OperateTests runs it against silo processes. Here: it names a missing setting.
        _ = cluster;
        _ = expected;
        var (badCode, _, badError) = await RunCliAsync(["status", "--clustering", "redis"]);
        Assert.Equal(Cli.ExitCodes.BadInput, badCode);
        Assert.Contains("--connection-string", badError);
    }

    private static Task<(int Code, string Output, string Error)> RunCliAsync(string[] args) => Task.Run(() =>
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.CommandRunner.Run(Cli.Program.CreateRootCommand(), args, output, error);
        return (code, output.ToString(), error.ToString());
    });

    private static async Task<ReplicatedClusterStatus> PollStatusAsync(ReplicatedTestCluster cluster, Func<ReplicatedClusterStatus, bool> condition, string what)
    {
        ReplicatedClusterStatus? last = null;
        await Poll.UntilAsync(async () =>
        {
            try
            {
                last = await cluster.Client.GetReplicatedClusterStatusAsync();
                return condition(last);
            }
            catch (Exception)
            {
                return false;
            }
        }, what, TimeSpan.FromSeconds(30));
        return last!;
    }
}
