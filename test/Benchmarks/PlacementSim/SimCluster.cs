namespace OpenReplica.PlacementSim;

/// <summary>
/// The roster and every sampled grain's replica set, kept up to date across roster changes with the silos'
/// placement code. A join changes a grain's set only if the newcomer beats the member of its own domain in the set
/// (or, when its domain is not there, the lightest member): checked per grain in O(R) instead of re-ranking the
/// whole roster. A leave re-ranks only the grains whose set held the member that left.
/// </summary>
internal sealed class SimCluster
{
    private readonly List<long> _ids = [];       // every silo ever seen, by silo index
    private readonly List<int> _domains = [];
    private readonly List<bool> _alive = [];
    private readonly List<int> _roster = [];     // silo indexes in the roster
    private long[] _rosterIds = [];              // the roster as the placement code takes it (rebuilt per change)
    private int[] _rosterDomains = [];
    private readonly uint[] _grains;
    private readonly int[] _sets;                // per grain, R silo indexes, heaviest first
    private readonly int _replicas;
    private readonly int _domainCount;

    public SimCluster(uint[] grains, int replicas, int domainCount)
    {
        _grains = grains;
        _replicas = replicas;
        _domainCount = domainCount;
        _sets = new int[grains.Length * replicas];
    }

    public int RosterSize => _roster.Count;

    public IReadOnlyList<int> Roster => _roster;

    public int DomainOf(int silo) => _domains[silo];

    public bool IsAlive(int silo) => _alive[silo];

    public int AddSilo(long id, int domain)
    {
        _ids.Add(id);
        _domains.Add(domain);
        _alive.Add(true);
        return _ids.Count - 1;
    }

    /// <summary>Places every grain from scratch on the current roster (the start of the day).</summary>
    public void PlaceAll(IEnumerable<int> roster)
    {
        _roster.AddRange(roster);
        RosterChanged();
        Parallel.For(0, _grains.Length, g => Rank(g));
    }

    /// <summary>A silo joins the roster; returns how many grains' sets changed.</summary>
    public int Join(int silo)
    {
        _roster.Add(silo);
        RosterChanged();
        if (DomainsInRoster() < _replicas + 1)
        {
            int changed = 0;
            Parallel.For(0, _grains.Length, g => { if (Rank(g)) Interlocked.Increment(ref changed); });
            return changed;
        }
        long id = _ids[silo];
        int domain = _domains[silo];
        int moved = 0;
        Parallel.For(0, _grains.Length, () => 0, (g, _, local) =>
        {
            var set = _sets.AsSpan(g * _replicas, _replicas);
            ulong w = Weight(g, id);
            int victim = -1;
            for (int k = 0; k < _replicas; k++)
            {
                if (_domains[set[k]] == domain) victim = k;
            }
            if (victim < 0) victim = _replicas - 1; // its domain is not in the set: it competes with the lightest
            if (!Heavier(w, id, Weight(g, _ids[set[victim]]), _ids[set[victim]])) return local;
            set[victim] = silo;
            SortHeaviestFirst(g, set);
            return local + 1;
        }, local => Interlocked.Add(ref moved, local));
        return moved;
    }

    /// <summary>
    /// Silos leave the roster (gracefully, or removed after a failure); returns how many grains' sets changed and how
    /// many new replicas each silo receives.
    /// </summary>
    public (int Changed, int[] Receivers) Leave(IReadOnlyCollection<int> silos)
    {
        foreach (int silo in silos) _roster.Remove(silo);
        RosterChanged();
        var leaving = new HashSet<int>(silos);
        var receivers = new int[_ids.Count];
        int changed = 0;
        Parallel.For(0, _grains.Length, () => 0, (g, _, local) =>
        {
            var set = _sets.AsSpan(g * _replicas, _replicas);
            bool affected = false;
            foreach (int s in set) affected |= leaving.Contains(s);
            if (!affected) return local;
            Span<int> before = stackalloc int[_replicas];
            set.CopyTo(before);
            Rank(g);
            foreach (int s in _sets.AsSpan(g * _replicas, _replicas))
            {
                if (!before.Contains(s)) Interlocked.Increment(ref receivers[s]);
            }
            return local + 1;
        }, local => Interlocked.Add(ref changed, local));
        return (changed, receivers);
    }

    public void Fail(int silo) => _alive[silo] = false;

    /// <summary>Replicas per roster silo and activations (leaders: the heaviest live member) per live silo.</summary>
    public (int[] Replicas, int[] Leaders) Load()
    {
        var replicas = new int[_ids.Count];
        var leaders = new int[_ids.Count];
        for (int g = 0; g < _grains.Length; g++)
        {
            var set = _sets.AsSpan(g * _replicas, _replicas);
            bool led = false;
            foreach (int s in set)
            {
                replicas[s]++;
                if (!led && _alive[s])
                {
                    leaders[s]++;
                    led = true;
                }
            }
        }
        return (replicas, leaders);
    }

    /// <summary>Grains whose set holds two silos of one domain although the roster spans enough domains.</summary>
    public int SharedDomainSets()
    {
        if (DomainsInRoster() < _replicas) return 0;
        int shared = 0;
        for (int g = 0; g < _grains.Length; g++)
        {
            var set = _sets.AsSpan(g * _replicas, _replicas);
            for (int a = 0; a < _replicas; a++)
            {
                for (int b = a + 1; b < _replicas; b++)
                {
                    if (_domains[set[a]] == _domains[set[b]]) shared++;
                }
            }
        }
        return shared;
    }

    /// <summary>Grains that have lost a majority of their replicas to dead silos.</summary>
    public int MajorityLost()
    {
        int lost = 0;
        for (int g = 0; g < _grains.Length; g++)
        {
            int dead = 0;
            foreach (int s in _sets.AsSpan(g * _replicas, _replicas)) if (!_alive[s]) dead++;
            if (dead > _replicas / 2) lost++;
        }
        return lost;
    }

    private void RosterChanged()
    {
        _rosterIds = [.. _roster.Select(s => _ids[s])];
        _rosterDomains = [.. _roster.Select(s => _domains[s])];
    }

    private int DomainsInRoster() => _roster.Select(s => _domains[s]).Distinct().Count();

    /// <summary>Ranks one grain over the whole roster with the silos' code; returns whether its set changed.</summary>
    private bool Rank(int g)
    {
        Span<int> chosen = stackalloc int[_replicas];
        OpenReplica.Orleans.ReplicaSetPlacement.ChooseIndexes(_grains[g], _rosterIds, _rosterDomains, _domainCount, chosen);
        var set = _sets.AsSpan(g * _replicas, _replicas);
        bool changed = false;
        for (int k = 0; k < _replicas; k++)
        {
            int silo = _roster[chosen[k]];
            if (!set.Contains(silo)) changed = true;
        }
        for (int k = 0; k < _replicas; k++) set[k] = _roster[chosen[k]];
        return changed;
    }

    private void SortHeaviestFirst(int g, Span<int> set)
    {
        for (int a = 1; a < set.Length; a++)
        {
            for (int b = a; b > 0 && Heavier(Weight(g, _ids[set[b]]), _ids[set[b]], Weight(g, _ids[set[b - 1]]), _ids[set[b - 1]]); b--)
            {
                (set[b], set[b - 1]) = (set[b - 1], set[b]);
            }
        }
    }

    private ulong Weight(int g, long id) => OpenReplica.Orleans.ReplicaSetPlacement.Weight(_grains[g], id);

    private static bool Heavier(ulong weight, long id, ulong otherWeight, long otherId) =>
        weight > otherWeight || (weight == otherWeight && id < otherId);
}
