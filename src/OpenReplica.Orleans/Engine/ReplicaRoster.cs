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
    ILogger<ReplicaRoster> logger)
{
    public const string FileName = "roster";
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly SemaphoreSlim _resolveLock = new(1, 1);
    private readonly Dictionary<long, SiloAddress> _addresses = [];
    private IReadOnlyList<Guid>? _members;
    private ClusterConfig? _current;
    private long _version;

    /// <summary>Raised (on any thread) when the current roster changes: a dead replica was replaced.</summary>
    public event Action? Changed;

    /// <summary>
    /// The roster now: the genesis roster, changed only by replacements chosen in the roster group's log.
    /// Null while the genesis roster is not known yet.
    /// </summary>
    public ClusterConfig? Current => _current ?? (Members is { } m ? new ClusterConfig(m.Select(ToReplicaId)) : null);

    /// <summary>The slot of the roster group's log that chose <see cref="Current"/> (0 for the genesis roster).</summary>
    public long Version => _version;

    /// <summary>The genesis roster as replica ids: every group's first configuration is computed from it.</summary>
    public ClusterConfig? Genesis => Members is { } m ? new ClusterConfig(m.Select(ToReplicaId)) : null;

    /// <summary>Adopts a newer roster (from the roster group's log, or from a peer that knows a newer version).</summary>
    public void SetCurrent(ClusterConfig roster, long version)
    {
        lock (_addresses)
        {
            if (version <= _version) return;
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

    private static ClusterConfig Pick(GrainId grainId, int replicas, ClusterConfig roster)
    {
        if (replicas > roster.Members.Count)
        {
            throw new InvalidOperationException(
                $"Grain {grainId} wants {replicas} replicas, but the cluster's replica roster has {roster.Members.Count} (ReplicatedGrainsOptions.ReplicationFactor).");
        }
        return new ClusterConfig(Ranked(grainId, roster.Members).Take(replicas));
    }

    /// <summary>The grain's replicas in preference order (rendezvous by grain id), for placement.</summary>
    public IEnumerable<long> PreferenceOrder(GrainId grainId, ClusterConfig config) =>
        config.Members.OrderByDescending(id => RendezvousReplicaSetLocator.Weight(grainId.GetUniformHashCode(), (uint)id)).ThenBy(id => id);

    public SiloAddress? SiloOf(long replicaId)
    {
        lock (_addresses) return _addresses.GetValueOrDefault(replicaId);
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
                lock (_addresses) _addresses[ToReplicaId(info.ReplicaId)] = silo;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogAddressUnknown(logger, silo, e.Message);
            }
        }
        lock (_addresses)
        {
            foreach (var (id, silo) in _addresses.ToList())
            {
                if (!active.Contains(silo)) _addresses.Remove(id);
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
                await Task.Delay(RetryDelay, cancellationToken);
            }
            return Members!;
        }
        finally
        {
            _resolveLock.Release();
        }
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
        if (first.Count < size) return null;
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
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        var ids = new List<Guid>(lines.Count);
        foreach (var line in lines)
        {
            if (!Guid.TryParse(line, out var id)) throw new InvalidDataException($"Replica roster file '{path}' has a bad line '{line}'.");
            ids.Add(id);
        }
        return ids;
    }

    private void Persist(IReadOnlyList<Guid> roster)
    {
        if (options.Value.DataDirectory is not { } dir) return;
        // Temporary file, fsync, rename, directory fsync: the rename itself survives a power loss.
        var text = string.Concat(roster.Select(id => id.ToString("D") + Environment.NewLine));
        OpenReplica.Storage.DurableFile.WriteAtomically(Path.Combine(dir, FileName), System.Text.Encoding.UTF8.GetBytes(text));
    }

    private static IEnumerable<long> Ranked(GrainId grainId, IEnumerable<long> members) =>
        members.OrderByDescending(m => RendezvousReplicaSetLocator.Weight(grainId.GetUniformHashCode(), (uint)m)).ThenBy(m => m);

    /// <summary>Live replicas that are not in the roster: candidates to replace a dead member.</summary>
    public IReadOnlyList<long> Spares()
    {
        var current = Current;
        lock (_addresses) return _addresses.Keys.Where(id => current is null || !current.Contains(id)).Order().ToList();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica roster changed (version {Version}): {Roster}")]
    private static partial void LogRosterChanged(ILogger logger, long version, string roster);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Replica roster not formed yet: {Reason}")]
    private static partial void LogNotYet(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica roster: {Members}")]
    private static partial void LogRosterAdopted(ILogger logger, string members);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not reach the replica host on {Silo}: {Reason}")]
    private static partial void LogAddressUnknown(ILogger logger, SiloAddress silo, string reason);
}
