namespace OpenReplica.Consensus;

/// <summary>
/// Exactly-once bookkeeping, derived from the chosen log alone so every replica computes the same table:
/// for each client, the sequences already applied above the client's acknowledged floor.
/// Bounded: at most <see cref="MaxSessions"/> clients (the one idle longest, by slot, is forgotten first)
/// and <see cref="MaxSequencesPerClient"/> remembered sequences per client (the floor rises past the oldest).
/// A forgotten sequence counts as applied, so a very late retry is refused rather than applied twice.
/// </summary>
public sealed class SessionTable
{
    /// <summary>Default for <see cref="MaxSessions"/>.</summary>
    public const int DefaultMaxSessions = 100_000;
    /// <summary>Sequences remembered per client above its floor; beyond this the floor rises past the oldest.</summary>
    public const int MaxSequencesPerClient = 4096;

    private readonly Dictionary<Guid, ClientSession> _sessions = [];

    /// <summary>An empty table that remembers at most <paramref name="maxSessions"/> clients.</summary>
    public SessionTable(int maxSessions = DefaultMaxSessions)
    {
        Invariant.Assert(maxSessions > 0);
        MaxSessions = maxSessions;
    }

    /// <summary>A new empty table with the default bound.</summary>
    public static SessionTable Empty => new();

    /// <summary>Clients remembered at most; the one idle longest (by slot) is forgotten first.</summary>
    public int MaxSessions { get; }

    /// <summary>Clients remembered now.</summary>
    public int Count => _sessions.Count;

    /// <summary>Whether the command with this identity was applied (or forgotten below its client's floor, which counts as applied).</summary>
    public bool IsApplied(CommandId id)
    {
        if (!_sessions.TryGetValue(id.ClientId, out var session)) return false;
        return id.Sequence < session.Floor || session.Applied.Contains(id.Sequence);
    }

    /// <summary>Records that <paramref name="command"/> is applied at <paramref name="slot"/>; false when it was already.</summary>
    public bool TryMarkApplied(Command command, long slot)
    {
        if (!command.HasIdentity) return true;
        if (!_sessions.TryGetValue(command.ClientId, out var session))
        {
            EvictIfFull();
            session = new ClientSession();
            _sessions[command.ClientId] = session;
        }
        session.LastSlot = slot;
        if (command.FirstUnacknowledged > session.Floor) session.RaiseFloor(command.FirstUnacknowledged);
        if (command.Sequence < session.Floor || !session.Applied.Add(command.Sequence)) return false;
        if (session.Applied.Count > MaxSequencesPerClient) session.RaiseFloor(session.Applied.Min + 1);
        return true;
    }

    private void EvictIfFull()
    {
        if (_sessions.Count < MaxSessions) return;
        // Deterministic: the least recently used session, ties broken by client id.
        var victim = _sessions.MinBy(kv => (kv.Value.LastSlot, kv.Key)).Key;
        _sessions.Remove(victim);
    }

    /// <summary>A deep copy (the table is mutable).</summary>
    public SessionTable Clone()
    {
        var copy = new SessionTable(MaxSessions);
        foreach (var (client, s) in _sessions)
        {
            copy._sessions[client] = new ClientSession { Floor = s.Floor, LastSlot = s.LastSlot, Applied = new SortedSet<long>(s.Applied) };
        }
        return copy;
    }

    /// <summary>The table as plain rows (for snapshot encoding), ordered by client id.</summary>
    public IEnumerable<SessionRow> Rows =>
        _sessions.OrderBy(kv => kv.Key).Select(kv => new SessionRow(kv.Key, kv.Value.Floor, kv.Value.LastSlot, kv.Value.Applied.ToArray()));

    /// <summary>A table from the rows of <see cref="Rows"/> (snapshot decoding).</summary>
    public static SessionTable FromRows(IEnumerable<SessionRow> rows, int maxSessions = DefaultMaxSessions)
    {
        var table = new SessionTable(maxSessions);
        foreach (var row in rows)
        {
            table._sessions[row.ClientId] = new ClientSession { Floor = row.Floor, LastSlot = row.LastSlot, Applied = new SortedSet<long>(row.Applied) };
        }
        return table;
    }

    /// <summary>True when both tables remember exactly the same sessions (used by the simulator's checks).</summary>
    public bool SameAs(SessionTable other) =>
        Rows.Select(r => (r.ClientId, r.Floor, string.Join(",", r.Applied)))
            .SequenceEqual(other.Rows.Select(r => (r.ClientId, r.Floor, string.Join(",", r.Applied))));

    private sealed class ClientSession
    {
        public long Floor { get; set; }
        public long LastSlot { get; set; }
        public SortedSet<long> Applied { get; init; } = [];

        public void RaiseFloor(long floor)
        {
            Floor = floor;
            // From the low end, without RemoveWhere's closure and scan of the whole set: runs for nearly every
            // command (a client's floor rises as its calls are acknowledged).
            while (Applied.Count > 0 && Applied.Min < floor) Applied.Remove(Applied.Min);
        }
    }
}

/// <summary>One client's session as stored in a snapshot.</summary>
/// <param name="ClientId">The client.</param>
/// <param name="Floor">Sequences below this are acknowledged by the client and count as applied.</param>
/// <param name="LastSlot">The slot of the client's latest applied command (for least-recently-used eviction).</param>
/// <param name="Applied">Sequences at or above the floor that were applied.</param>
public sealed record SessionRow(Guid ClientId, long Floor, long LastSlot, long[] Applied);
