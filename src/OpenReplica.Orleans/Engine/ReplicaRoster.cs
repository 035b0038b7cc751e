using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenReplica.Consensus;
using Orleans;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The cluster's replica roster: which replicas (by stable identity) hold replicated grains, and on which silo
/// each currently runs. It is formed once, like etcd's initial cluster, from the first
/// <see cref="ReplicatedGrainsOptions.ReplicationFactor"/> silos by start time in Orleans membership, written
/// into every silo's data directory, and handed by any silo that knows it to a silo that joins later.
/// A grain's group is a rendezvous-ordered subset of the roster of the grain's replica count.
/// Membership is only used to find addresses (hints); it never votes.
/// </summary>
internal sealed partial class ReplicaRoster(
    IOptions<ReplicatedGrainsOptions> options,
    ReplicaIdentity identity,
    ReplicaHostClient hosts,
    IClusterMembershipService membership,
    IGrainFactory grainFactory,
    ILocalSiloDetails localSilo,
    ILogger<ReplicaRoster> logger)
{
    public const string FileName = RosterFile.FileName;
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly SemaphoreSlim _resolveLock = new(1, 1);
    private readonly Dictionary<long, SiloAddress> _addresses = [];
    private readonly Dictionary<long, string> _domains = [];
    // A replica that said it leaves, with the silo (incarnation) it said so from: a restart of that replica under a
    // new silo address (same data directory) is not leaving, and must again be placed on and taken in as a spare.
    private readonly Dictionary<long, SiloAddress?> _leaving = [];
    // Silos stopping (ShuttingDown, Stopping): no longer live, but still reachable until membership calls them dead.
    // Consensus messages still go there, so the calls in flight on a stopping silo's activations are chosen.
    private readonly Dictionary<long, SiloAddress> _stopping = [];
    private IReadOnlyList<Guid>? _members;
    private ClusterConfig? _current;
    private long _version;

    /// <summary>Raised (on any thread) when the current roster changes: a dead replica was replaced.</summary>
    public event Action? Changed;

    /// <summary>
    /// The roster now: the genesis roster, changed only by replacements chosen in the roster group's log.
    /// Null while the genesis roster is not known yet.
    /// </summary>
    public ClusterConfig? Current => _current ?? Genesis;

    /// <summary>The slot of the roster group's log that chose <see cref="Current"/> (0 for the genesis roster).</summary>
    public long Version => _version;

    /// <summary>The genesis roster as replica ids: every group's first configuration is computed from it.</summary>
    public ClusterConfig? Genesis => _genesis ??= Members is { } m ? new ClusterConfig(m.Select(ToReplicaId)) : null;

    // The genesis roster never changes once known; cached because admission asks for it on every inbound message.
    private ClusterConfig? _genesis;

    /// <summary>Adopts a newer roster (from the roster group's log, or from a peer that knows a newer version).</summary>
    public void SetCurrent(ClusterConfig roster, long version)
    {
        lock (_addresses)
        {
            if (version <= _version) return;
            if (_current is not null)
            {
                _recent.Enqueue(_current);
                if (_recent.Count > RecentRosters) _recent.Dequeue();
            }
            _current = roster;
            _version = version;
        }
        LogRosterChanged(logger, version, roster.ToString());
        Changed?.Invoke();
    }

    public long LocalReplicaId => ToReplicaId(identity.ReplicaId);

    /// <summary>The roster's identities, or null while it is not formed or learned yet.</summary>
    public IReadOnlyList<Guid>? Members => _members ??= LoadPersisted();

    /// <summary>A replica id that fits the WAL's header and is derived only from the replica's identity.</summary>
    public static long ToReplicaId(Guid identity)
    {
        long id = (long)(BitConverter.ToUInt64(identity.ToByteArray(), 0) & 0x7FFF_FFFF);
        return id == 0 ? 1 : id;
    }

    /// <summary>The configuration a grain's group should have now (from the current roster).</summary>
    public async Task<ClusterConfig> ConfigForAsync(GrainId grainId, int replicas, CancellationToken cancellationToken)
    {
        await ResolveAsync(cancellationToken);
        return Pick(grainId, replicas, Current!);
    }

    /// <summary>The current target configuration, or null while the roster is unknown.</summary>
    public ClusterConfig? TargetConfigFor(GrainId grainId, int replicas) => Current is { } current ? Pick(grainId, replicas, current) : null;

    /// <summary>
    /// A group's first configuration: from the genesis roster, so every silo computes the same one whenever it
    /// first hears of the group (a replica added later starts from it and learns the rest from the log).
    /// </summary>
    public async Task<ClusterConfig> GenesisConfigForAsync(GrainId grainId, int replicas, CancellationToken cancellationToken)
    {
        await ResolveAsync(cancellationToken);
        return Pick(grainId, replicas, Genesis!);
    }

    public ClusterConfig? GenesisConfigFor(GrainId grainId, int replicas) => Genesis is { } genesis ? Pick(grainId, replicas, genesis) : null;

    // Rosters this silo held before the current one (newest last), at most RecentRosters.
    private readonly Queue<ClusterConfig> _recent = new();
    private const int RecentRosters = 16;

    /// <summary>
    /// Whether one of the last rosters before the current one placed the grain's replica set here. A move chooses the
    /// member it adds from the roster it knew; the roster may change before that member hears from the group (in a
    /// rolling replacement it changes every few seconds), and a member that then refused the group's messages, because
    /// today's roster places the group elsewhere, left the group needing a vote it would never cast (session 22).
    /// </summary>
    public bool PlacedHereRecently(GrainId grainId, int replicas, long replicaId)
    {
        ClusterConfig[] recent;
        lock (_addresses) recent = [.. _recent];
        foreach (var roster in recent)
        {
            if (replicas <= roster.Members.Count && Pick(grainId, replicas, roster).Contains(replicaId)) return true;
        }
        return false;
    }

    /// <summary>The grain's replica set in <paramref name="roster"/>: its top members by rendezvous weight, spread over fault domains.</summary>
    public ClusterConfig Pick(GrainId grainId, int replicas, ClusterConfig roster)
    {
        if (replicas > roster.Members.Count)
        {
            throw new InvalidOperationException(
                $"Grain {grainId} wants {replicas} replicas, but the cluster's replica roster has {roster.Members.Count} (ReplicatedGrainsOptions.ReplicationFactor).");
        }
        return new ClusterConfig(ReplicaSetPlacement.Choose(grainId.GetUniformHashCode(), MembersWithDomains(roster), replicas));
    }

    /// <summary>The roster's members with the fault domain each declared (as far as this silo has learned them).</summary>
    public IReadOnlyList<RosterMember> MembersWithDomains(ClusterConfig roster)
    {
        lock (_addresses) return [.. roster.Members.Select(id => new RosterMember(id, _domains.GetValueOrDefault(id)))];
    }

    /// <summary>The fault domain this silo declared (<see cref="ReplicatedGrainsOptions.FaultDomain"/>).</summary>
    public string? LocalDomain => options.Value.FaultDomain;

    /// <summary>Fault domains learned so far, by replica id (for peers that learn the roster from this silo).</summary>
    public Dictionary<long, string> Domains()
    {
        lock (_addresses)
        {
            if (LocalDomain is { } local) _domains[LocalReplicaId] = local;
            return new Dictionary<long, string>(_domains);
        }
    }

    /// <summary>Records fault domains learned from a peer (a replica's domain never changes while its identity lives).</summary>
    public void LearnDomains(IReadOnlyDictionary<long, string>? domains)
    {
        if (domains is null) return;
        lock (_addresses)
        {
            foreach (var (id, domain) in domains) _domains.TryAdd(id, domain);
        }
    }

    /// <summary>Some roster member's fault domain is unknown here while others declared one (learn it from peers).</summary>
    public bool MissesDomains
    {
        get
        {
            if (Current is not { } current) return false;
            lock (_addresses) return _domains.Count > 0 && current.Members.Any(m => !_domains.ContainsKey(m));
        }
    }

    /// <summary>
    /// A replica that is leaving gracefully: never a spare to add, and removed from the roster first.
    /// <paramref name="from"/> is the silo it said so from, when it said (peers of an older version do not): without
    /// it, a replica whose address this silo had not learned yet stayed "leaving" after a restart under a new address.
    /// </summary>
    public void MarkLeaving(long replicaId, SiloAddress? from = null)
    {
        lock (_addresses) _leaving[replicaId] = from ?? _addresses.GetValueOrDefault(replicaId) ?? _leaving.GetValueOrDefault(replicaId);
    }

    /// <summary>This silo's address (what a leaving replica names itself by).</summary>
    public SiloAddress LocalSilo => localSilo.SiloAddress;

    public bool IsLeaving(long replicaId)
    {
        lock (_addresses) return _leaving.ContainsKey(replicaId);
    }

    /// <summary>Whether the replica on <paramref name="silo"/> is leaving gracefully (placement avoids it).</summary>
    public bool IsLeaving(SiloAddress silo)
    {
        lock (_addresses)
        {
            foreach (long replicaId in _leaving.Keys)
            {
                if (silo.Equals(_addresses.GetValueOrDefault(replicaId))) return true;
            }
            return false;
        }
    }

    /// <summary>The grain's replicas in preference order (rendezvous by grain id), for placement.</summary>
    public IEnumerable<long> PreferenceOrder(GrainId grainId, ClusterConfig config) =>
        config.Members.OrderByDescending(id => ReplicaSetPlacement.Weight(grainId.GetUniformHashCode(), id)).ThenBy(id => id);

    public SiloAddress? SiloOf(long replicaId)
    {
        lock (_addresses) return _addresses.GetValueOrDefault(replicaId);
    }

    /// <summary>
    /// Where to send a replica's consensus messages: its live silo, or its silo while that silo is stopping. Without
    /// the second, the peers of a silo that had become ShuttingDown dropped every reply to it, and each call in flight
    /// on its activations waited out the call timeout (5 s in the test kit, 30 s by default) before it was retried
    /// elsewhere: a rolling restart of a three-silo cluster stalled those callers at every stop (session 26).
    /// </summary>
    public SiloAddress? RouteOf(long replicaId)
    {
        lock (_addresses) return _addresses.GetValueOrDefault(replicaId) ?? _stopping.GetValueOrDefault(replicaId);
    }

    /// <summary>
    /// Whether a replica stays: it is in the current roster, live and not leaving (a group's copy
    /// on it survives the roster changes under way).
    /// </summary>
    public bool Stays(long replicaId)
    {
        var current = Current;
        lock (_addresses) return current is not null && current.Contains(replicaId) && _addresses.ContainsKey(replicaId) && !_leaving.ContainsKey(replicaId);
    }

    /// <summary>
    /// Whether a replica is gone for now: not this silo's, and its silo is not live in membership (dead, or stopped
    /// after leaving). A move removes such a member before it adds another (<see cref="MoveStep.For"/>).
    /// </summary>
    public bool IsGone(long replicaId) => replicaId != LocalReplicaId && SiloOf(replicaId) is null;

    /// <summary>A group with this configuration has a member that does not stay (gone, out of the roster, or leaving): it needs a move to keep its copies.</summary>
    public bool NeedsRepair(ClusterConfig config) => config.Members.Any(m => !Stays(m));

    /// <summary>
    /// Whether a group with this configuration would be left without a majority of members that stay if
    /// <paramref name="replicaId"/> went too (its other members gone or leaving): that replica must hand it over before
    /// it stops, or the group stops until a member comes back, and in a rolling replacement none does.
    /// </summary>
    public bool LosesMajorityWithout(ClusterConfig config, long replicaId) =>
        config.Members.Count(m => m != replicaId && Stays(m)) < config.Members.Count / 2 + 1;

    /// <summary>
    /// Asks the roster's members for a newer roster (and their fault domains) and adopts it; when none of them answers,
    /// asks every other live silo. A silo that joined knows only the genesis roster until it learns a newer one, and in
    /// a rolling replacement every genesis member may be gone by then: asking them alone left a new silo, already a
    /// client's gateway, placing grains on a roster of dead silos until the meta group took it in (10 s of failed
    /// placements in a user-style rolling replacement, session 25).
    /// </summary>
    public Task LearnNewerFromPeersAsync()
    {
        // Callers at the same moment (placements of many grains on a stale roster) share one round of asks.
        lock (_addresses) return _learning is { IsCompleted: false } running ? running : _learning = LearnAsync();
    }

    private Task? _learning;

    private async Task LearnAsync()
    {
        await Task.Yield(); // started under the lock: ask outside it
        var members = Current!.Members;
        if (await AskForRosterAsync(members)) return;
        await AskForRosterAsync(LiveReplicas().Where(r => !members.Contains(r)));
    }

    /// <summary>Asks each replica's silo for its roster, adopting any newer one; whether any of them answered.</summary>
    private async Task<bool> AskForRosterAsync(IEnumerable<long> replicas)
    {
        bool answered = false;
        foreach (long replica in replicas.ToList())
        {
            if (replica == LocalReplicaId || SiloOf(replica) is not { } silo) continue;
            try
            {
                if (await hosts.For(silo).GetCurrentRosterAsync() is not { } info) continue;
                answered = true;
                if (info.Version < Version) continue;
                LearnDomains(info.Domains);
                SetCurrent(new ClusterConfig(info.Members), info.Version);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Try the next one; addresses are hints.
            }
        }
        return answered;
    }

    /// <summary>Learns which silo each replica runs on (called on membership changes; addresses are hints).</summary>
    public async Task RefreshAddressesAsync()
    {
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToList();
        foreach (var silo in active)
        {
            lock (_addresses)
            {
                if (_addresses.ContainsValue(silo)) continue;
            }
            try
            {
                var info = await hosts.For(silo).GetInfoAsync();
                lock (_addresses)
                {
                    long id = ToReplicaId(info.ReplicaId);
                    _addresses[id] = silo;
                    _stopping.Remove(id);
                    if (_leaving.TryGetValue(id, out var leftFrom) && leftFrom is not null && !leftFrom.Equals(silo))
                    {
                        // The replica came back under a new silo (a restart with its data directory): not leaving now.
                        _leaving.Remove(id);
                        LogReturned(logger, id, silo);
                    }
                    if (info.FaultDomain is { } domain) _domains[id] = domain;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogAddressUnknown(logger, silo, e.Message);
            }
        }
        lock (_addresses)
        {
            var snapshot = membership.CurrentSnapshot;
            foreach (var (id, silo) in _addresses.ToList())
            {
                if (active.Contains(silo)) continue;
                _addresses.Remove(id);
                if (IsStopping(snapshot.GetSiloStatus(silo))) _stopping[id] = silo;
            }
            foreach (var (id, silo) in _stopping.ToList())
            {
                if (!IsStopping(snapshot.GetSiloStatus(silo))) _stopping.Remove(id);
            }
        }
    }

    /// <summary>Forms the roster (first silos by start time) or learns it from a silo that knows it.</summary>
    public async Task<IReadOnlyList<Guid>> ResolveAsync(CancellationToken cancellationToken)
    {
        if (Members is { } known) return known;
        await _resolveLock.WaitAsync(cancellationToken);
        try
        {
            while (Members is null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                IReadOnlyList<Guid>? roster = null;
                try
                {
                    roster = await LearnFromPeersAsync() ?? await FormAsync();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Early in start-up the management grain or peers may not answer yet: try again shortly.
                    LogNotYet(logger, e.Message);
                }
                if (roster is not null)
                {
                    Adopt(roster);
                    break;
                }
                // A cluster started with fewer silos than ReplicationFactor waits here for good: say so, once a while.
                if (_formationWait.Elapsed >= FormationWarnAfter && !_warnedFormation && TooFewSilosToForm)
                {
                    _warnedFormation = true;
                    LogCannotForm(logger, DescribeFormation());
                }
                await Task.Delay(RetryDelay, cancellationToken);
            }
            return Members!;
        }
        finally
        {
            _resolveLock.Release();
        }
    }

    private static readonly TimeSpan FormationWarnAfter = TimeSpan.FromSeconds(10);
    private readonly System.Diagnostics.Stopwatch _formationWait = System.Diagnostics.Stopwatch.StartNew();
    private bool _warnedFormation;

    /// <summary>Fewer silos are active than the roster forms from (a silo merely learning it from peers is not warned about).</summary>
    private bool TooFewSilosToForm => ActiveSiloCount < options.Value.ReplicationFactor;

    private int ActiveSiloCount => membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);

    /// <summary>Why the roster is not known yet, for an operator: how many silos it waits for and how many are active.</summary>
    public string DescribeFormation()
    {
        int active = ActiveSiloCount;
        int size = options.Value.ReplicationFactor;
        return active < size
            ? $"the replica roster forms once ReplicationFactor ({size}) silos are active, and {active} are: start {size - active} more silo(s), or lower ReplicatedGrainsOptions.ReplicationFactor"
            : $"the replica roster is being formed from the {size} oldest of the {active} active silos";
    }

    /// <summary>Adopts a roster given by a peer (the first one wins; a silo never changes its roster).</summary>
    public void Adopt(IReadOnlyList<Guid> roster)
    {
        if (Members is not null) return;
        if (roster.Select(ToReplicaId).Distinct().Count() != roster.Count)
        {
            throw new InvalidOperationException("Replica roster has two identities with the same replica id; restart one silo with a new data directory.");
        }
        Persist(roster);
        _members = roster;
        LogRosterAdopted(logger, string.Join(", ", roster));
    }

    private async Task<IReadOnlyList<Guid>?> LearnFromPeersAsync()
    {
        foreach (var member in membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active))
        {
            try
            {
                if (await hosts.For(member.SiloAddress).GetRosterAsync() is { Length: > 0 } roster) return roster;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogAddressUnknown(logger, member.SiloAddress, e.Message);
            }
        }
        return null;
    }

    private async Task<IReadOnlyList<Guid>?> FormAsync()
    {
        int size = options.Value.ReplicationFactor;
        var hostsTable = await grainFactory.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true);
        var first = hostsTable.OrderBy(h => h.StartTime).ThenBy(h => h.SiloAddress.ToParsableString(), StringComparer.Ordinal).Take(size).ToList();
        // Only the oldest active silo forms the roster; the others learn it from a peer. Silos that each formed one
        // from their own view of a starting cluster could otherwise choose different rosters.
        if (first.Count < size || !first[0].SiloAddress.Equals(localSilo.SiloAddress)) return null;
        var identities = new List<Guid>(size);
        foreach (var host in first)
        {
            var info = await hosts.For(host.SiloAddress).GetInfoAsync();
            identities.Add(info.ReplicaId);
        }
        return identities;
    }

    private IReadOnlyList<Guid>? LoadPersisted()
    {
        if (options.Value.DataDirectory is not { } dir) return null;
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        return RosterFile.Parse(path, File.ReadAllBytes(path));
    }

    private void Persist(IReadOnlyList<Guid> roster)
    {
        if (options.Value.DataDirectory is not { } dir) return;
        // Temporary file, fsync, rename, directory fsync: the rename itself survives a power loss.
        OpenReplica.Storage.DurableFile.WriteAtomically(Path.Combine(dir, FileName), RosterFile.Encode(roster));
    }

    /// <summary>Live replicas that are not in the roster and not leaving: candidates to join it or replace a dead member.</summary>
    public IReadOnlyList<long> Spares()
    {
        var current = Current;
        lock (_addresses) return _addresses.Keys.Where(id => (current is null || !current.Contains(id)) && !_leaving.ContainsKey(id)).Order().ToList();
    }

    /// <summary>Replica ids of every silo this silo currently knows to be live.</summary>
    public IReadOnlyList<long> LiveReplicas()
    {
        lock (_addresses) return [.. _addresses.Keys.Order()];
    }

    private static bool IsStopping(SiloStatus status) => status is SiloStatus.ShuttingDown or SiloStatus.Stopping;

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} is back on silo {Silo} after it had left: no longer leaving")]
    private static partial void LogReturned(ILogger logger, long replica, SiloAddress silo);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica roster changed (version {Version}): {Roster}")]
    private static partial void LogRosterChanged(ILogger logger, long version, string roster);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Replica roster not formed yet: {Reason}")]
    private static partial void LogNotYet(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replicated grains cannot be placed yet: {Reason}")]
    private static partial void LogCannotForm(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica roster: {Members}")]
    private static partial void LogRosterAdopted(ILogger logger, string members);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not reach the replica host on {Silo}: {Reason}")]
    private static partial void LogAddressUnknown(ILogger logger, SiloAddress silo, string reason);
}
