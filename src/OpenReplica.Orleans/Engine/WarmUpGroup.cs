using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// A throwaway group on four in-memory silos (<see cref="InMemoryGroup"/>: the parts a silo builds its grain groups
/// from, each message encoded and decoded as the transport does). It takes the group through what a grain's first
/// activation on a new silo sets off: a campaign, proposals (one and several per slot), a read round, a lease, a
/// follower that lags and gets the leader's snapshot, a replica rebuilt from its log, and a move onto a silo that
/// learns the group on first contact. <see cref="SiloWarmUp"/> runs it once when a silo starts, so that code is
/// compiled before a grain needs it (docs/benchmarks.md, "Session 37": a fresh process's first replicated call 30-45
/// ms faster). Nothing here touches the silo's own engine, log or network.
/// </summary>
internal sealed class WarmUpGroup
{
    /// <summary>The throwaway group's id (it lives only in the warm-up's in-memory silos).</summary>
    public const string GroupId = "3|openreplica-warm-up/0";

    private readonly InMemoryGroup _group;
    private readonly HashSet<long> _cutOff = [];
    private long _applied;

    private WarmUpGroup()
    {
        _group = new InMemoryGroup(GroupId, [1, 2, 3, 4], new ClusterConfig([1, 2, 3]), MonotonicEngineClock.System)
        {
            Intercept = (from, message) => _cutOff.Contains(from.Id) || _cutOff.Contains(message.To),
        };
    }

    /// <summary>What a run got through; each part is a code path the run compiled.</summary>
    public sealed record Outcome(bool Led, long CommandsApplied, bool ReadConfirmed, bool LaggardCaughtUp, bool RebuiltCaughtUp, bool MovedOntoNewSilo);

    /// <summary>Runs the group through its paths once; throws only on a bug (every wait is bounded).</summary>
    public static async Task<Outcome> RunAsync()
    {
        var run = new WarmUpGroup();
        var group = run._group;
        var leader = group.Replica(1)!;
        leader.SetListener(new CountingListener(run));

        leader.Post(core => core.Campaign());
        await group.SettleAsync();
        bool led = leader.IsLeader;
        await run.ProposeAsync(leader, rounds: 4, perRound: 3);

        var read = leader.AskAsync(core => (0, core.ReadIndex(1)));
        await group.SettleAsync();
        bool readConfirmed = read.IsCompletedSuccessfully;
        leader.Post(core => core.RenewLease());
        await group.SettleAsync();

        // Silo 3 misses what follows and the leader compacts past it: it catches up from the leader's snapshot.
        run._cutOff.Add(3);
        await run.ProposeAsync(leader, rounds: 4, perRound: 2);
        leader.Post(core => core.CompactLog([1, 2, 3]));
        await group.SettleAsync();
        run._cutOff.Clear();
        await run.ProposeAsync(leader, rounds: 1, perRound: 1);
        bool laggardCaughtUp = await run.CommitIndexAsync(3) == await run.CommitIndexAsync(1);

        // Silo 2's replica leaves memory and is built again from its log (an eviction, a restart).
        group.Rebuild(2);
        await run.ProposeAsync(leader, rounds: 1, perRound: 1);
        bool rebuiltCaughtUp = await run.CommitIndexAsync(2) == await run.CommitIndexAsync(1);

        // A move onto silo 4, which learns the group from the leader's first message.
        var moved = new ClusterConfig([1, 2, 4]);
        leader.Post(core => core.ProposeConfig(moved));
        await group.SettleAsync();
        await run.ProposeAsync(leader, rounds: 1, perRound: 1);
        bool movedOnto = group.Replica(4) is not null
            && await run.CommitIndexAsync(4) == await run.CommitIndexAsync(1)
            && moved.Equals(await group.AskAsync(4, g => g.AskAsync(core => (core.Configs.Latest, new Ready()))));
        return new Outcome(led, Interlocked.Read(ref run._applied), readConfirmed, laggardCaughtUp, rebuiltCaughtUp, movedOnto);
    }

    private async Task ProposeAsync(GroupReplica leader, int rounds, int perRound)
    {
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < perRound; i++) leader.Propose(new Command(Guid.Empty, 0, 0, CommandPayload.Encode(DateTimeOffset.UnixEpoch, [(byte)round, (byte)i])));
            await _group.SettleAsync();
        }
    }

    private Task<long> CommitIndexAsync(long id) => _group.AskAsync(id, g => g.AskAsync(core => (core.CommitIndex, new Ready())));

    /// <summary>The leader's activation stand-in: counts the commands handed to it, as a grain's session applies them.</summary>
    private sealed class CountingListener(WarmUpGroup run) : IGroupListener
    {
        public void OnReady(Ready ready)
        {
            foreach (var entry in ready.Committed)
            {
                for (int i = 0; i < entry.Commands.Count; i++)
                {
                    if (entry.Commands[i].Command.Payload.Length > 0)
                    {
                        CommandPayload.Decode(entry.Commands[i].Command.Payload);
                        Interlocked.Increment(ref run._applied);
                    }
                }
            }
        }

        public void OnFailed(Exception exception)
        {
        }
    }
}
