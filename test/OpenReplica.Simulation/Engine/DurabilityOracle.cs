using OpenReplica.Consensus;

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// Checks the engine's persistence rules where they matter, against what each silo's WAL holds durably (its index
/// shows only fsynced records):
/// - a vote leaves a silo only once it is on disk: a Promise only under a durable promise at least as high, an
///   Accepted only for entries durable under that ballot, and never under a ballot below a promise that was durable
///   before the step that sends it;
/// - a command is applied (so acknowledged) only once a majority of its group's replicas hold its slot durably (a
///   silo that is down counts as holding it: its disk cannot be read, and may).
/// A broken rule is reported at once, before a crash has to turn it into lost data.
/// </summary>
internal sealed class DurabilityOracle(EngineSimulation world)
{
    /// <summary>Accepted votes and applies checked (reading a group's durable records costs; promises are all checked).</summary>
    public const double SampleRate = 0.25;

    private readonly Dictionary<(long Silo, string Group), Ballot> _durablePromise = [];
    // Its own stream: sampling does not change the world's random choices.
    private readonly DeterministicRandom _sample = new(world.Seed ^ 0x5EED_0AC1E);

    /// <summary>Checks one step's outgoing votes (called before they leave <paramref name="silo"/>).</summary>
    public void CheckVotes(SimSilo silo, IReadOnlyList<(string GroupId, Message Message)> messages)
    {
        var seen = new Dictionary<string, Ballot>();
        foreach (var (groupId, message) in messages)
        {
            if (message is not (Promise or Accepted) || (message is Accepted && !_sample.Chance(SampleRate))) continue;
            // A replica dropped since its step (the group moved away): its records were deleted on purpose, after
            // these votes were made durable.
            if (silo.Dropped(groupId)) continue;
            var state = silo.Table.Store.ReadPersisted(groupId) ?? PersistentState.Empty;
            var promised = state.HardState.Promised;
            var before = _durablePromise.GetValueOrDefault((silo.Id, groupId));
            if (promised < before)
            {
                Fail(silo, groupId, $"its durable promise went back from {before} to {promised} (a replica rebuilt from stale state wrote it)");
            }
            switch (message)
            {
                case Promise p when promised < p.Ballot:
                    Fail(silo, groupId, $"promise for {p.Ballot} sent while its durable promise is {promised}");
                    break;
                case Accepted a when a.Ballot < before:
                    Fail(silo, groupId, $"accepted under {a.Ballot}, below the promise {before} it had made durable before");
                    break;
                case Accepted a:
                    long snapshot = state.Snapshot?.Slot ?? 0;
                    foreach (long slot in a.Slots.Where(s => s > snapshot))
                    {
                        var entry = state.Entries.LastOrDefault(e => e.Slot == slot);
                        // An entry under another ballot is allowed: a newer one (a later Accept of the same step superseded
                        // it in the same append), or an older one for a slot the replica knows is chosen (acknowledged
                        // under the new ballot without a new record: its value is final). A missing entry never is.
                        if (entry is null)
                        {
                            Fail(silo, groupId, $"accepted slot {slot} under {a.Ballot} before its entry was durable (disk has {entry?.ToString() ?? "nothing"})");
                        }
                    }
                    break;
            }
            if (before < promised) seen[groupId] = promised;
        }
        foreach (var (groupId, promised) in seen) _durablePromise[(silo.Id, groupId)] = promised;
    }

    /// <summary>The silo dropped its replica of the group: a replica it starts later begins with no promise.</summary>
    public void Forgot(long silo, string groupId) => _durablePromise.Remove((silo, groupId));

    /// <summary>
    /// Checks that a command applied at <paramref name="slot"/> is durable on a majority of its group's replicas (of its
    /// first configuration: a group that moved is not checked here, its configuration at the slot being the core's).
    /// </summary>
    public void CheckApplied(string groupId, long slot, OpenReplica.Orleans.CallId call)
    {
        if (!_sample.Chance(SampleRate) || world.Moved(groupId)) return;
        var config = world.ConfigOf(groupId);
        int holding = 0;
        foreach (long member in config.Members)
        {
            var silo = world.Silo(member);
            if (!silo.IsUp)
            {
                holding++;
                continue;
            }
            var state = silo.Table.Store.ReadPersisted(groupId);
            if (state is null) continue;
            if (state.Snapshot is { } s && s.Slot >= slot) holding++;
            else if (state.Entries.LastOrDefault(e => e.Slot == slot) is { } entry && entry.Value.Commands.Any(c => c.ClientId == call.ClientId && c.Sequence == call.Sequence)) holding++;
        }
        if (2 * holding <= config.Members.Count)
        {
            world.Fail(new SimulationFailure("durability", $"{groupId} slot {slot} was applied while only {holding} of {config.Members.Count} replicas held it durably"));
        }
    }

    private void Fail(SimSilo silo, string groupId, string what) =>
        world.Fail(new SimulationFailure("durability", $"silo {silo.Id} {groupId}: {what}"));
}
