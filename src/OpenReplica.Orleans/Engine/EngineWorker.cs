using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// One of the engine's workers: it owns the groups hashed to it and steps every ready one together. A step takes up
/// to <see cref="ReplicatedGrainsOptions.EngineMaxGroupsPerStep"/> ready groups, runs their cores, sends the
/// leaders' accepts at once, makes every group's records durable with ONE append (one fsync), then sends the votes
/// and everything else as one batch per peer silo, loops each leader's own vote back into its core, hands committed
/// entries to the activations (which queue them; the worker never waits for user code) and advances. A worker with
/// no ready group sleeps on its queue; no group has a task or timer of its own.
/// </summary>
internal sealed partial class EngineWorker(int index, IEngineStorage storage, IEngineNetwork network, IEngineClock clock,
    int maxGroupsPerStep, ILogger logger)
{
    // A group is in this queue at most once (GroupReplica's scheduled flag), so it holds at most every group of the worker.
    private readonly Channel<GroupReplica> _ready = Channel.CreateUnbounded<GroupReplica>(new UnboundedChannelOptions { SingleReader = true });
    private long _steps;
    private long _groupSteps;
    private StepLists? _lists; // the lists of the last step, reused by the next (null while a step runs)

    public int Index => index;

    public IEngineClock Clock => clock;

    /// <summary>Lease renewals of this worker's groups waiting for the next round (posted by <see cref="ReplicationEngine.PostDueRenewals"/>).</summary>
    public LeaseRenewals Renewals { get; } = new();

    /// <summary>Bugs planted on purpose; only the deterministic simulator sets them, to prove it catches them.</summary>
    internal EngineBug PlantedBugs { get; set; }

    /// <summary>
    /// Called while a step gathers its groups, after each group's inputs ran; only the simulator sets it, to deliver
    /// there what other threads post meanwhile on a silo (messages, proposals), which a single-threaded run otherwise
    /// never does in the middle of a step.
    /// </summary>
    internal Action? WhileGathering { get; set; }

    /// <summary>Steps taken (one WAL append and one batch per peer each).</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Group steps taken, summed over steps (groups per step = GroupSteps / Steps).</summary>
    public long GroupSteps => Interlocked.Read(ref _groupSteps);

    /// <summary>Queues a group whose inputs wait (called once per wake-up of the group).</summary>
    public void Schedule(GroupReplica group) => _ready.Writer.TryWrite(group);

    public async Task RunAsync(CancellationToken stopping)
    {
        var reader = _ready.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stopping))
            {
                await StepAsync(reader);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            LogWorkerStopped(logger, e, index);
        }
    }

    /// <summary>One step over the ready groups (bounded). Public for the simulator, which drives steps itself.</summary>
    public async Task StepAsync(ChannelReader<GroupReplica>? reader = null)
    {
        reader ??= _ready.Reader;
        // A step's lists are reused by the next step (a worker steps one at a time; a second step started while one is
        // in flight, which only tests do, makes its own).
        var lists = Interlocked.Exchange(ref _lists, null) ?? new StepLists();
        try
        {
            await StepAsync(reader, lists);
        }
        finally
        {
            lists.Clear();
            _lists = lists;
        }
    }

    private async Task StepAsync(ChannelReader<GroupReplica> reader, StepLists lists)
    {
        var batch = lists.Batch;
        while (batch.Count < maxGroupsPerStep && reader.TryRead(out var group))
        {
            try
            {
                if (group.RunInputs() is { } ready && (!ready.IsEmpty || group.PersistsCommit)) batch.Add((group, ready));
                else group.Advance();
            }
            catch (Exception e)
            {
                // A broken invariant in one core stops that replica, not the worker's other groups.
                group.Fail(e);
            }
            WhileGathering?.Invoke();
        }
        if (batch.Count == 0) return;
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _groupSteps, batch.Count);

        // Leaders' accepts go out while their own appends are being made durable (parallel persist), and so does all
        // of a group whose step needs no fsync (at most a new commit index: nothing waits for it on disk).
        var early = lists.Early;
        var later = lists.Later;
        List<(GroupReplica Group, Ready Ready)>? settled = null;
        bool mustPersist = false;
        foreach (var (group, ready) in batch)
        {
            if (group.NeedsNoFsync(ready))
            {
                (settled ??= lists.Settled).Add((group, ready));
                if (!ready.HasMessages) continue;
                foreach (var m in ready.Messages)
                {
                    if (m.To != group.ReplicaId) early.Add((group, m));
                }
                continue;
            }
            mustPersist = true;
            List<Message>? rest = null;
            if (ready.HasMessages)
            {
                foreach (var m in ready.Messages)
                {
                    if (group.MaySendBeforePersist(m)) early.Add((group, m));
                    else (rest ??= new List<Message>(ready.Messages.Count)).Add(m);
                }
            }
            later.Add((group, ready, rest));
        }
        if (early.Count > 0) network.Send(early);
        if (settled is not null)
        {
            foreach (var (group, ready) in settled) Settle(group, ready);
        }

        if (mustPersist)
        {
            try
            {
                // The settled groups' commit indexes ride along in the same append (no extra fsync); a step of settled
                // groups only writes nothing, and a crash that loses a commit index loses nothing acknowledged.
                await storage.PersistAsync(batch);
            }
            catch (Exception e)
            {
                // A failed fsync: none of these groups may vote again (their records may be lost).
                foreach (var (group, _) in batch) group.Fail(e);
                return;
            }
        }

        // Votes leave only now, after their fsync. A replica's messages to itself (the leader's own vote) come back as inputs.
        var outgoing = lists.Outgoing;
        foreach (var (group, _, messages) in later)
        {
            if (group.Failed || messages is null) continue; // Failed: retired by a log reopen during the persist, its records were not written
            foreach (var m in messages)
            {
                if (m.To == group.ReplicaId) group.Post(m);
                else outgoing.Add((group, m));
            }
        }
        if (outgoing.Count > 0) network.Send(outgoing);

        foreach (var (group, ready, _) in later)
        {
            if (group.Failed) continue;
            group.Persisted(ready, written: true);
            group.Deliver(ready);
        }
        if (settled is not null)
        {
            // Their hard states rode along in the append when there was one.
            foreach (var (group, ready) in settled) group.Persisted(ready, written: mustPersist);
        }
        // Every group advances only after the append: one evicted now could be rebuilt from an index without its records.
        foreach (var (group, _) in batch)
        {
            if (!group.Failed) group.Advance();
        }
    }

    /// <summary>A group whose step needs no fsync: its own messages come back and its effects are handed out at once.</summary>
    private static void Settle(GroupReplica group, Ready ready)
    {
        if (ready.HasMessages) foreach (var m in ready.Messages)
        {
            if (m.To == group.ReplicaId) group.Post(m);
        }
        group.Deliver(ready);
    }

    /// <summary>The lists one step fills (emptied for the next step, which reuses them).</summary>
    private sealed class StepLists
    {
        public List<(GroupReplica Group, Ready Ready)> Batch { get; } = [];
        public List<(GroupReplica Group, Message Message)> Early { get; } = [];
        public List<(GroupReplica Group, Ready Ready, List<Message>? Messages)> Later { get; } = [];
        public List<(GroupReplica Group, Ready Ready)> Settled { get; } = [];
        public List<(GroupReplica Group, Message Message)> Outgoing { get; } = [];

        public void Clear()
        {
            Batch.Clear();
            Early.Clear();
            Later.Clear();
            Settled.Clear();
            Outgoing.Clear();
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Replication engine worker {Worker} stopped")]
    private static partial void LogWorkerStopped(ILogger logger, Exception exception, int worker);
}
