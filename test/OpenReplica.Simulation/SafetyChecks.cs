using OpenReplica.Checker;
using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>A broken safety or liveness property, with the seed that found it.</summary>
public sealed class SimulationFailure(string invariant, string detail) : Exception($"{invariant}: {detail}")
{
    public string Invariant { get; } = invariant;
    public string Detail { get; } = detail;
}

/// <summary>
/// The properties every run must keep. Agreement is checked as each replica commits; the rest after the run:
/// each replica's state equals a replay of the chosen log, every acknowledged command is applied exactly once,
/// and the clients' history is linearizable.
/// </summary>
public sealed class SafetyChecks(int maxSessions)
{
    // Every value any replica ever committed, per slot (kept even after logs are compacted).
    private readonly Dictionary<long, (string Fingerprint, CommittedEntry Entry, long By)> _chosen = [];

    /// <summary>Replicas compare state digests at every slot that is a multiple of this (divergence detection).</summary>
    public const int DigestEverySlots = 16;

    // The first digest any replica computed at a slot, and which replica.
    private readonly Dictionary<long, (ulong Digest, long By)> _digests = [];

    public long CommandsCommitted { get; private set; }

    /// <summary>
    /// A replica's state digest after applying <paramref name="slot"/>: every replica that reaches the same slot must
    /// agree, as every grain activation replaying past a checkpoint must (docs/determinism.md). Caught during the run,
    /// at the first replica that diverges, not only by the final comparison.
    /// </summary>
    public void OnStateDigest(long replica, long slot, ulong digest)
    {
        if (!_digests.TryAdd(slot, (digest, replica)) && _digests[slot].Digest != digest)
        {
            throw new SimulationFailure("divergence", $"slot {slot}: state digest {_digests[slot].Digest:x16} (first computed by r{_digests[slot].By}) but r{replica} now computes {digest:x16}");
        }
    }

    public long MaxSlot => _chosen.Count == 0 ? 0 : _chosen.Keys.Max();

    public void OnCommitted(long replica, CommittedEntry entry)
    {
        string fingerprint = Fingerprint(entry);
        if (_chosen.TryGetValue(entry.Slot, out var first))
        {
            if (first.Fingerprint != fingerprint)
            {
                throw new SimulationFailure("agreement",
                    $"slot {entry.Slot}: r{first.By} committed {first.Fingerprint} but r{replica} committed {fingerprint}");
            }
            return;
        }
        _chosen[entry.Slot] = (fingerprint, entry, replica);
        CommandsCommitted += entry.Commands.Count;
    }

    public void OnSnapshotInstalled(long replica, Snapshot snapshot)
    {
        for (long slot = 1; slot <= snapshot.Slot; slot++)
        {
            if (!_chosen.ContainsKey(slot))
            {
                throw new SimulationFailure("snapshot", $"r{replica} installed a snapshot at {snapshot.Slot} but slot {slot} was never committed anywhere");
            }
        }
    }

    /// <summary>Replays the chosen log once and compares every live replica's state at its applied slot.</summary>
    public void CheckStatesAndExactlyOnce(IReadOnlyList<SimNode> nodes, IReadOnlyList<SimClient> clients)
    {
        long max = MaxSlot;
        var wanted = nodes.Where(n => n.IsUp).GroupBy(n => n.Machine.AppliedSlot).ToDictionary(g => g.Key, g => g.ToList());
        var replay = new KvStateMachine();
        var sessions = new SessionTable(maxSessions);
        var appliedCount = new Dictionary<CommandId, int>();
        CheckAt(0);
        for (long slot = 1; slot <= max; slot++)
        {
            if (!_chosen.TryGetValue(slot, out var c)) throw new SimulationFailure("gap", $"slot {slot} below {max} was never committed");
            var commands = new List<AppliedCommand>();
            foreach (var ac in c.Entry.Commands)
            {
                bool duplicate = !sessions.TryMarkApplied(ac.Command, slot);
                if (duplicate != ac.IsDuplicate)
                {
                    throw new SimulationFailure("exactly-once", $"slot {slot}: {ac.Command.Id} duplicate={ac.IsDuplicate} at r{c.By}, replay says {duplicate}");
                }
                if (!duplicate) appliedCount[ac.Command.Id] = appliedCount.GetValueOrDefault(ac.Command.Id) + 1;
                commands.Add(new AppliedCommand(ac.Command, duplicate));
            }
            replay.ApplyEntry(c.Entry with { Commands = commands });
            CheckAt(slot);
        }

        foreach (var (id, count) in appliedCount.Where(kv => kv.Value > 1))
        {
            throw new SimulationFailure("exactly-once", $"{id} applied {count} times");
        }
        foreach (var client in clients)
        {
            foreach (var id in client.AcknowledgedWrites)
            {
                if (!appliedCount.ContainsKey(id)) throw new SimulationFailure("durability", $"acknowledged {id} is not in the chosen log");
            }
        }

        void CheckAt(long slot)
        {
            if (!wanted.TryGetValue(slot, out var atSlot)) return;
            string expected = replay.Fingerprint();
            foreach (var node in atSlot)
            {
                string actual = node.Machine.Fingerprint();
                if (actual != expected)
                {
                    throw new SimulationFailure("state", $"r{node.Id} at slot {slot} differs from the replay of the log:\n  replica {Trim(actual)}\n  replay  {Trim(expected)}");
                }
            }
        }
    }

    /// <summary>Search steps the linearizability check may spend per key (a few tens of seconds on this machine).</summary>
    public const long CheckerStepsPerKey = 200_000_000;

    /// <summary>
    /// Checks the clients' history. The search is bounded by steps, not time, so a seed's verdict does not depend on
    /// the machine or its load: a seed that fails fails again when replayed. The wall-clock bound only ends a check
    /// that would otherwise hang.
    /// </summary>
    public static void CheckLinearizable(IEnumerable<Operation<KvInput, KvOutput>> operations)
    {
        var history = operations.ToList();
        var result = Linearizability.Check(Models.KeyValue, history, new CheckOptions
        {
            MaxStepsPerPartition = CheckerStepsPerKey,
            Budget = TimeSpan.FromMinutes(30),
        });
        if (result.Verdict == Verdict.NotLinearizable)
        {
            throw new SimulationFailure("linearizability", result.Explanation ?? "history is not linearizable");
        }
        if (result.Verdict == Verdict.Unknown)
        {
            throw new SimulationFailure("linearizability", $"checker undecided on {history.Count} operations: {result.Explanation}");
        }
    }

    private static string Fingerprint(CommittedEntry e) => e.Kind switch
    {
        LogValueKind.Noop => "noop",
        LogValueKind.Config => "config" + e.Config,
        _ => string.Join(",", e.Commands.Select(c => $"{c.Command.Id}/{Convert.ToHexString(c.Command.Payload)}")),
    };

    private static string Trim(string s) => s.Length > 300 ? s[..300] + "…" : s;
}
