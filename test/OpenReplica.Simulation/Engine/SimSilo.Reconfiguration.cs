using OpenReplica.Consensus;
using OpenReplica.Orleans;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// What a silo does when its groups are reconfigured, as <c>ReplicationRuntime</c> does it: a message that names a
/// group this silo holds no replica of starts one from the sender's view (<c>LearnGroupAsync</c>: ask the sender what
/// it knows, check <see cref="ForgottenGroups"/>, save the configuration as the replica's first snapshot, build the
/// replica, hand it the messages held meanwhile in <see cref="FirstContact"/>), and a group that moved away is dropped
/// (<c>ForgetAsync</c>). The runtime itself needs Orleans (membership, the roster, peers' status calls), so these are
/// its steps over the same parts: the real <see cref="FirstContact"/>, <see cref="ForgottenGroups"/>,
/// <see cref="GroupStore"/> and <see cref="GroupTable"/>.
/// </summary>
internal sealed partial class SimSilo
{
    // Kept across restarts, unlike a silo's (memory only: docs/placement.md, Limits): the simulated silos come back
    // under their identity with their data, and a lagging view that restarts an empty acceptor is a known limit this
    // simulator does not look for.
    private readonly ForgottenGroups _forgotten = new();
    // Groups dropped here and not held again: the runtime's held set no longer has them, so a message that names one
    // is first contact even for a member of the group's first configuration.
    private readonly HashSet<string> _dropped = new(StringComparer.Ordinal);
    private FirstContact _learning = new();

    /// <summary>
    /// Whether this silo holds a replica of the group: in memory, on disk, or as a member of the group's first
    /// configuration that never dropped it (its replica starts at the first message, as at a group's birth).
    /// </summary>
    public bool Holds(string groupId) =>
        IsUp && !_dropped.Contains(groupId)
        && (Table.Peek(groupId) is not null || world.ConfigOf(groupId).Contains(Id) || Table.Store.HasPersisted(groupId));

    /// <summary>The silo stops for good (a graceful stop that ran out of its deadline): down, and never restarted.</summary>
    public void StopForGood()
    {
        if (IsUp) Crash(forGood: true);
        else Gone = true;
    }

    /// <summary>Whether this silo dropped its replica of the group and has not held it again.</summary>
    public bool Dropped(string groupId) => _dropped.Contains(groupId);

    /// <summary>
    /// Whether this silo dropped its replica of the group, from memory and disk (a crash in the middle of a drop leaves
    /// the records on disk: the mover asks again, as the next rebalance pass does).
    /// </summary>
    public bool HasForgotten(string groupId) =>
        _dropped.Contains(groupId) && (Gone || (IsUp && Table.Peek(groupId) is null && !Table.Store.HasPersisted(groupId)));

    /// <summary>What this silo's replica of the group knows (a peer asks before it starts a replica); null when it holds none.</summary>
    public async Task<GroupStatus?> StatusOfAsync(string groupId)
    {
        if (!Holds(groupId)) return null;
        try
        {
            return await ReplicationRuntime.StatusOfAsync(GroupFor(groupId));
        }
        catch (ReplicaUnavailableException)
        {
            return null;
        }
    }

    private void LearnOnFirstContact(long from, string groupId, Message message)
    {
        bool first = _learning.TryStart(groupId);
        _learning.Hold(groupId, message);
        if (first) _ = LearnGroupAsync(from, groupId, _learning);
    }

    /// <summary>Starts a replica of a group a peer's message names, from the configuration that peer knows (<c>ReplicationRuntime.LearnGroupAsync</c>).</summary>
    private async Task LearnGroupAsync(long from, string groupId, FirstContact learning)
    {
        bool started = false;
        try
        {
            if (await world.StatusFromPeerAsync(from, Id, groupId) is not { } sender) return;
            if (!IsUp || learning != _learning) return;
            if (_forgotten.ConfigToLearn(groupId, sender, Id) is not { } configs) return;
            // Planted: what LearnGroupAsync did before 83c67b2 (the sender's newest configuration as the one in force
            // from slot 1, so each configuration the new replica replays becomes its newest).
            if (world.Bugs.HasFlag(EngineBug.FirstContactFromSlotOne)) configs = ConfigHistory.Start(configs.Latest);
            var dropped = _forgotten.NoteOf(groupId);
            if (dropped is not null) await Table.Store.ForgetAsync(groupId); // leftovers of the dropped replica (as the runtime)
            if (!IsUp || learning != _learning) return;
            await Table.Store.SaveInitialConfigAsync(groupId, configs, dropped);
            if (!IsUp || learning != _learning) return;
            world.Trace($"silo {Id} starts a replica of {groupId} from silo {from}'s view: {configs}");
            _dropped.Remove(groupId);
            Table.GetOrCreate(groupId, () => CoreOptions(configs.Latest));
            _forgotten.Held(groupId);
            started = true;
        }
        finally
        {
            var held = learning.Finish(groupId);
            if (started)
            {
                foreach (var message in held) Table.Deliver(groupId, core => core.Step(message), () => GroupFor(groupId));
            }
        }
    }

    /// <summary>
    /// Drops this silo's replica of a group that moved away (memory and disk), as <c>ReplicationRuntime.ForgetAsync</c>:
    /// in the replica's own step, only if it learned no configuration since <paramref name="decidedOn"/> (its status
    /// when the decision was made) and voted nowhere since from <paramref name="removedFrom"/> on (<see cref="PeerView.StillLeft"/>), and it is learned again only from a view newer
    /// than both what the replica knew and <paramref name="knownFromSlot"/>.
    /// </summary>
    public async Task ForgetAsync(string groupId, long knownFromSlot, GroupStatus? decidedOn, long removedFrom)
    {
        if (!IsUp || HasForgotten(groupId)) return;
        if (decidedOn is not null && Holds(groupId))
        {
            (long LatestFromSlot, FormerReplica Former)? retired;
            bool StillLeft(PaxosReplica core) => PeerView.StillLeft(core, decidedOn, removedFrom);
            try
            {
                // Planted: the check as it was before session 35 (no slot from which a vote refuses the drop).
                if (world.Bugs.HasFlag(EngineBug.DropAfterVotingAgain)) removedFrom = long.MaxValue;
                retired = await GroupFor(groupId).RetireIfAsync(StillLeft);
            }
            catch (ReplicaUnavailableException)
            {
                // Failed meanwhile: it votes no more, and every vote it sent is on disk.
                retired = Table.RetireFailed(groupId, CoreOptions(world.ConfigOf(groupId)), StillLeft);
            }
            if (retired is not { } left)
            {
                world.Trace($"silo {Id} keeps its replica of {groupId}: it learned a configuration since the decision to drop it");
                return;
            }
            _forgotten.Forgot(groupId, Math.Max(knownFromSlot, left.LatestFromSlot), left.Former);
        }
        else if (knownFromSlot > 0)
        {
            _forgotten.Forgot(groupId, knownFromSlot);
        }
        _dropped.Add(groupId);
        world.Trace($"silo {Id} drops its replica of {groupId}");
        if (!IsUp) return;
        if (Table.TryRemove(groupId, out var removed)) removed.Post(core => core.Resign());
        world.Oracle.Forgot(Id, groupId);
        await Table.Store.ForgetAsync(groupId);
    }
}
