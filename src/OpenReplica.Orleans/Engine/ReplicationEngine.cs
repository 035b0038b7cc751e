using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The silo's replication engine: a fixed number of <see cref="EngineWorker"/>s (about one per core); each group
/// belongs to one worker by a hash of its id, so a group's core is only ever touched by its worker's loop, without
/// locks. Replicated grains cost per silo (a few loops), not per grain.
/// </summary>
internal sealed class ReplicationEngine
{
    private readonly EngineWorker[] _workers;
    private Task[] _loops = [];

    public ReplicationEngine(int workers, int maxGroupsPerStep, IEngineStorage storage, IEngineNetwork network, IEngineClock clock, ILogger logger)
    {
        Invariant.Assert(workers >= 1 && maxGroupsPerStep >= 1);
        _workers = new EngineWorker[workers];
        for (int i = 0; i < workers; i++) _workers[i] = new EngineWorker(i, storage, network, clock, maxGroupsPerStep, logger);
    }

    public IReadOnlyList<EngineWorker> Workers => _workers;

    /// <summary>Steps taken by all workers (each: one WAL append, one batch per peer silo).</summary>
    public long Steps => _workers.Sum(w => w.Steps);

    /// <summary>Group steps summed over all steps.</summary>
    public long GroupSteps => _workers.Sum(w => w.GroupSteps);

    /// <summary>Lease renewals held for a round, summed over the workers (see <see cref="LeaseRenewals"/>).</summary>
    public long RenewalsHeld => _workers.Sum(w => w.Renewals.HeldTotal);

    /// <summary>The worker that owns <paramref name="groupId"/> (a stable hash, the same for the group's whole life on this silo).</summary>
    public EngineWorker WorkerFor(string groupId)
    {
        // FNV-1a: string.GetHashCode would do within a process, but a stable hash keeps runs comparable.
        uint hash = 2166136261;
        foreach (char c in groupId) hash = (hash ^ c) * 16777619;
        return _workers[hash % (uint)_workers.Length];
    }

    /// <summary>
    /// A round of lease renewals (called on every engine tick, <paramref name="roundMs"/> apart): each worker's held
    /// renewals are posted together once the earliest is due, so they share that worker's next step and batches.
    /// </summary>
    public void PostDueRenewals(long now, long roundMs)
    {
        foreach (var worker in _workers)
        {
            if (worker.Renewals.TakeDue(now, roundMs) is not { } due) continue;
            foreach (var group in due) group.PostRenewal();
        }
    }

    public void Start(CancellationToken stopping)
    {
        _loops = _workers.Select(w => Task.Factory.StartNew(() => w.RunAsync(stopping), stopping, TaskCreationOptions.DenyChildAttach, TaskScheduler.Default).Unwrap()).ToArray();
    }

    /// <summary>Waits (bounded by <paramref name="cancellationToken"/>) for the workers to end their current step.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(_loops).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
