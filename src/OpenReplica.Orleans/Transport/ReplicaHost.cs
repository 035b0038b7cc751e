using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// The per-silo replica host (a grain service): receives batches of consensus messages from peer silos and hands
/// them to the registered <see cref="IReplicaMessageSink"/>. Later it also holds the acceptor state of every
/// replica on the silo and serves catch-up.
/// </summary>
internal sealed partial class ReplicaHost : GrainService, IReplicaHost
{
    private readonly IReplicaMessageSink _sink;
    private readonly ReplicaIdentity _identity;
    private readonly ILogger<ReplicaHost> _logger;
    private readonly Replication.ReplicaRoster _roster;
    private readonly Replication.ReplicationRuntime _runtime;
    private readonly InOrderDelivery _inOrder;

    public ReplicaHost(
        GrainId grainId,
        Silo silo,
        ILoggerFactory loggerFactory,
        IReplicaMessageSink sink,
        ReplicaIdentity identity,
        Replication.ReplicaRoster roster,
        Replication.ReplicationRuntime runtime)
        : base(grainId, silo, loggerFactory)
    {
        _runtime = runtime;
        _roster = roster;
        _sink = sink;
        _identity = identity;
        _logger = loggerFactory.CreateLogger<ReplicaHost>();
        _inOrder = new InOrderDelivery(DeliverToSink);
    }

    /// <summary>Batches from peers that arrived after the gap before them was given up on.</summary>
    internal long LateBatches => _inOrder.Late;

    /// <summary>Batch numbers from peers given up on (lost on the way).</summary>
    internal long SkippedBatches => _inOrder.Skipped;

    public Task DeliverAsync(ReplicaEnvelope batch)
    {
        _inOrder.Receive(batch);
        return Task.CompletedTask;
    }

    private void DeliverToSink(ReplicaEnvelope batch)
    {
        try
        {
            _sink.OnMessages(batch.From, batch.Items);
        }
        catch (Exception exception)
        {
            // The sender cannot do better than the consensus layer's retransmission, so the batch is dropped here.
            LogSinkFailed(_logger, exception, batch.Items.Count, batch.From);
        }
    }

    public override Task Stop()
    {
        _inOrder.Dispose();
        return base.Stop();
    }

    public Task<Guid[]?> GetRosterAsync() => Task.FromResult(_roster.Members?.ToArray());

    public Task<RosterInfo?> GetCurrentRosterAsync() =>
        Task.FromResult(_roster.Current is { } current ? new RosterInfo([.. current.Members], _roster.Version, _roster.Domains()) : null);

    public Task<GroupStatus?> GetGroupStatusAsync(string groupId) => _runtime.StatusOfAsync(groupId);

    public async Task<long> WaitCommittedAsync(string groupId, long slot, TimeSpan wait)
    {
        // Bounded whatever the caller asks: the call holds nothing but a timer (grain services interleave requests).
        var deadline = DateTime.UtcNow + (wait < MaxCommitWait ? wait : MaxCommitWait);
        while (true)
        {
            long commit = await _runtime.StatusOfAsync(groupId) is { } status ? status.CommitIndex : -1;
            if (commit >= slot || DateTime.UtcNow >= deadline) return commit;
            await Task.Delay(CommitPollInterval);
        }
    }

    private static readonly TimeSpan MaxCommitWait = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CommitPollInterval = TimeSpan.FromMilliseconds(20);

    public Task<BirthAnswer> ClaimBirthAsync(string groupId, BirthClaim claim) => _runtime.AnswerBirthClaimAsync(groupId, claim);

    public Task ReleaseBirthAsync(string groupId, long proposer, long attempt)
    {
        _runtime.ReleaseBirthClaim(groupId, proposer, attempt);
        return Task.CompletedTask;
    }

    public Task LeaveRosterAsync(long replicaId)
    {
        _roster.MarkLeaving(replicaId);
        return Task.CompletedTask;
    }

    public Task ReplicaBackAsync(long replicaId, SiloAddress silo) => _runtime.OnReplicaBackAsync(replicaId, silo);

    public Task LeaveRosterFromAsync(long replicaId, SiloAddress silo)
    {
        _roster.MarkLeaving(replicaId, silo);
        return Task.CompletedTask;
    }

    public Task<ReplicaHostInfo> GetInfoAsync() => Task.FromResult(new ReplicaHostInfo(_identity.ReplicaId, Silo, _identity.Persisted, _roster.LocalDomain));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica message sink failed on a batch of {Count} messages from {From}; the batch is dropped")]
    private static partial void LogSinkFailed(ILogger logger, Exception exception, int count, SiloAddress from);
}
