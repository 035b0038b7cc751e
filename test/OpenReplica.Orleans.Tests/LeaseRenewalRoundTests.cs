using Microsoft.Extensions.Logging.Abstractions;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Lease renewals asked for by reads go out in rounds (<see cref="LeaseRenewals"/>): several groups' renewals share
/// one engine step and one send, no renewal is held past a quarter of its lead, and short leases renew at once.
/// Driven by hand: a worker that is not running, a disk that is durable at once, a clock the test sets.
/// </summary>
public class LeaseRenewalRoundTests
{
    private const long LeaseMs = 2000; // until = probe + 2000 - 250 (margin D/8); renewal due 1000 before that
    private const long RoundMs = 20;

    [Fact]
    public async Task Reads_that_find_their_leases_half_gone_renew_them_together_in_one_step_and_one_send()
    {
        var (engine, worker, clock, net) = NewEngine();
        var groups = new List<GroupReplica>();
        for (int i = 0; i < 3; i++) groups.Add(await LeadWithLeaseAsync(worker, net, $"g{i}", LeaseMs));
        engine.PostDueRenewals(clock.Now, RoundMs); // the first tick: rounds are RoundMs apart from now on
        net.Sent.Clear();
        long callsBefore = net.Calls;

        // Lease until 1750, renewal due from 750, held at most until 750 + 1000 / 4 = 1000.
        clock.Now = 800;
        Assert.All(groups, g => Assert.True(g.CanReadLocally(long.MaxValue)));
        Assert.Equal(3, worker.Renewals.Count);
        await StepUntilIdleAsync(worker);
        Assert.Empty(net.Sent); // held, not sent one group at a time

        clock.Now = 900;
        engine.PostDueRenewals(clock.Now, RoundMs);
        await StepUntilIdleAsync(worker);
        Assert.Empty(net.Sent); // not due yet: a later read's renewal may still join the round

        clock.Now = 980; // the last round before 1000
        engine.PostDueRenewals(clock.Now, RoundMs);
        long steps = worker.Steps;
        await StepUntilIdleAsync(worker);
        Assert.Equal(steps + 1, worker.Steps);
        Assert.Equal(callsBefore + 1, net.Calls);
        Assert.Equal(6, net.Sent.Count(m => m.Message is Heartbeat { ReadContext: > 0 })); // a probe to each follower of each group
        Assert.Equal(0, worker.Renewals.Count);

        // The followers acknowledge: each lease now runs from the renewal's probe (980 + 1750), and reads go on locally.
        foreach (var g in groups) AcknowledgeProbes(g, net);
        await StepUntilIdleAsync(worker);
        clock.Now = 2500; // past the first lease (1750), inside the renewed one (2730)
        Assert.All(groups, g => Assert.True(g.CanReadLocally(long.MaxValue)));
    }

    [Fact]
    public async Task A_read_renews_at_once_before_the_first_tick_and_when_the_lease_is_too_short_for_a_round()
    {
        var (engine, worker, clock, net) = NewEngine();
        var before = await LeadWithLeaseAsync(worker, net, "before-any-tick", LeaseMs);
        net.Sent.Clear();
        clock.Now = 800;
        Assert.True(before.CanReadLocally(long.MaxValue));
        Assert.Equal(0, worker.Renewals.Count);
        await StepUntilIdleAsync(worker);
        Assert.Equal(2, net.Sent.Count(m => m.Message is Heartbeat { ReadContext: > 0 }));

        // 40 ms lease: until +35, renewal due from +15, held at most 5 ms, shorter than a round.
        clock.Now = 10_000;
        engine.PostDueRenewals(clock.Now, RoundMs);
        var shortLease = await LeadWithLeaseAsync(worker, net, "short", 40);
        net.Sent.Clear();
        clock.Now = 10_016;
        Assert.True(shortLease.CanReadLocally(long.MaxValue));
        Assert.Equal(0, worker.Renewals.Count);
        await StepUntilIdleAsync(worker);
        Assert.Equal(2, net.Sent.Count(m => m.Message is Heartbeat { ReadContext: > 0 } && m.GroupId == "short"));
    }

    [Fact]
    public async Task A_lease_that_ran_out_serves_no_read_and_a_renewal_is_asked_for_once_per_lease()
    {
        var (engine, worker, clock, net) = NewEngine();
        var group = await LeadWithLeaseAsync(worker, net, "g", LeaseMs);
        engine.PostDueRenewals(clock.Now, RoundMs);

        clock.Now = 800;
        Assert.True(group.CanReadLocally(long.MaxValue));
        Assert.True(group.CanReadLocally(long.MaxValue));
        Assert.Equal(1, worker.Renewals.Count); // many reads, one renewal
        Assert.False(group.CanReadLocally(applied: -1)); // a read floor not yet applied: no local read

        clock.Now = 1750; // the renewal was never acknowledged: the lease ends where it began to
        Assert.False(group.CanReadLocally(long.MaxValue));
    }

    private static async Task<GroupReplica> LeadWithLeaseAsync(EngineWorker worker, RecordingNetwork net, string id, long leaseMs)
    {
        var core = new PaxosReplica(new ReplicaOptions
        {
            ReplicaId = 1,
            InitialConfig = new ClusterConfig([1, 2, 3]),
            ElectionTimeoutTicks = 0,
            ParallelPersist = true,
            LeaseDuration = leaseMs,
        });
        var group = new GroupReplica(id, core, worker, 100, NullLogger.Instance);
        group.Post(c => c.Campaign());
        await StepUntilIdleAsync(worker);
        var prepare = net.Sent.Last(m => m.GroupId == id && m.Message is Prepare { To: 2 });
        var ballot = ((Prepare)prepare.Message).Ballot;
        group.Post(c => c.Step(new Promise(2, 1, ballot, 0, 0, [])));
        await StepUntilIdleAsync(worker);
        Assert.True(group.IsLeader);
        AcknowledgeProbes(group, net); // the new leader's first heartbeat probes for its lease
        await StepUntilIdleAsync(worker);
        return group;
    }

    /// <summary>Follower 2 acknowledges the group's newest lease probe.</summary>
    private static void AcknowledgeProbes(GroupReplica group, RecordingNetwork net)
    {
        var probe = (Heartbeat)net.Sent.Last(m => m.GroupId == group.GroupId && m.Message is Heartbeat { To: 2, ReadContext: > 0 }).Message;
        group.Post(c => c.Step(new HeartbeatAck(2, 1, probe.Ballot, probe.ReadContext, probe.CommitIndex)));
    }

    private static async Task StepUntilIdleAsync(EngineWorker worker)
    {
        // A step loops a replica's own votes back as inputs: step until a step finds nothing to do (bounded).
        for (int i = 0; i < 10; i++)
        {
            long steps = worker.Steps;
            await worker.StepAsync();
            if (worker.Steps == steps) return;
        }
    }

    private static (ReplicationEngine Engine, EngineWorker Worker, ManualClock Clock, RecordingNetwork Net) NewEngine()
    {
        var clock = new ManualClock();
        var net = new RecordingNetwork();
        var engine = new ReplicationEngine(1, 1024, new DurableAtOnce(), net, clock, NullLogger.Instance);
        return (engine, engine.Workers[0], clock, net);
    }

    private sealed class DurableAtOnce : IEngineStorage
    {
        public ValueTask PersistAsync(IReadOnlyList<(GroupReplica Group, Ready Ready)> batch) => ValueTask.CompletedTask;
    }
}
