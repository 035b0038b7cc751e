using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Sends consensus messages to peer silos' <see cref="IReplicaHost"/>s, coalescing: <see cref="Send(SiloAddress, IReadOnlyList{ReplicaEnvelopeItem})"/>
/// only enqueues (an engine step enqueues all its messages for a silo at once); one loop per destination silo drains
/// everything queued for it and delivers it as ONE one-way <see cref="IReplicaHost.DeliverAsync"/> call (at most
/// <see cref="ReplicatedGrainsOptions.TransportMaxBatchMessages"/> messages and <see cref="ReplicatedGrainsOptions.TransportMaxBatchBytes"/>
/// bytes), numbered so that the receiver delivers
/// them in order per silo pair (<see cref="InOrderDelivery"/>).
/// Delivery is best effort, like a network: when a destination's queue
/// (<see cref="ReplicatedGrainsOptions.TransportQueueCapacity"/>) is full the OLDEST queued message is dropped and
/// counted, and a failed send is logged, counted and dropped. The consensus layer retransmits while work is in flight.
/// </summary>
public sealed partial class ReplicaTransport : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly ConcurrentDictionary<SiloAddress, Destination> _destinations = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ReplicaHostClient _hosts;
    private readonly SiloAddress _localSilo;
    private readonly ReplicatedGrainsOptions _options;
    private readonly ILogger<ReplicaTransport> _logger;
    private readonly Diagnostics.ReplicationInstruments _instruments;
    private long _enqueued;
    private long _metaEnqueued;
    private long _dropped;
    private long _batchesDelivered;
    private long _messagesDelivered;
    private long _batchesFailed;
    private readonly int _largestPayload;

    /// <summary>Orleans' default <c>MaxMessageBodySize</c> (100 MB): no call carries a larger body.</summary>
    internal const int DefaultMaxMessageBodySize = 100 * 1024 * 1024;

    private const int EnvelopeHeadroom = 1 << 20;

    internal ReplicaTransport(
        ReplicaHostClient hosts,
        ILocalSiloDetails localSilo,
        IOptions<ReplicatedGrainsOptions> options,
        ILogger<ReplicaTransport> logger,
        Diagnostics.ReplicationInstruments instruments,
        int maxMessageBodySize = DefaultMaxMessageBodySize)
    {
        // Room for the envelope and Orleans' own headers around one message's payload.
        _largestPayload = maxMessageBodySize - EnvelopeHeadroom;
        _instruments = instruments;
        instruments.ObserveTransportQueue(localSilo.SiloAddress.ToString(), () => _destinations.Values.Sum(d => (long)d.Queue.Reader.Count));
        _hosts = hosts;
        _localSilo = localSilo.SiloAddress;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Messages accepted by <c>Send</c>.</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued);

    /// <summary>Messages of grains' groups accepted by <c>Send</c> (all but the meta group's steady heartbeats).</summary>
    public long GrainMessagesEnqueued => Enqueued - Interlocked.Read(ref _metaEnqueued);

    /// <summary>Messages dropped because their destination's queue was full (oldest first).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary><see cref="IReplicaHost.DeliverAsync"/> calls sent (one-way: sent, not known to have arrived).</summary>
    public long BatchesDelivered => Interlocked.Read(ref _batchesDelivered);

    /// <summary>Messages carried by <see cref="BatchesDelivered"/>.</summary>
    public long MessagesDelivered => Interlocked.Read(ref _messagesDelivered);

    /// <summary><see cref="IReplicaHost.DeliverAsync"/> calls that failed to leave (their messages are lost).</summary>
    public long BatchesFailed => Interlocked.Read(ref _batchesFailed);

    /// <summary>Queues <paramref name="payload"/> for <paramref name="groupId"/>'s replica on <paramref name="to"/>. Never blocks.</summary>
    public void Send(SiloAddress to, string groupId, byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(payload);
        Send(to, [new ReplicaEnvelopeItem(groupId, payload)]);
    }

    /// <summary>Queues messages for <paramref name="to"/>, in order; they leave together in one call. Never blocks.</summary>
    public void Send(SiloAddress to, IReadOnlyList<ReplicaEnvelopeItem> items)
    {
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(items);
        if (_stopping.IsCancellationRequested)
        {
            Interlocked.Add(ref _dropped, items.Count);
            _instruments.MessagesDropped(items.Count);
            return;
        }

        if (!_destinations.TryGetValue(to, out var destination))
        {
            lock (_destinations)
            {
                // Under the lock so exactly one sender loop is started per destination.
                destination = _destinations.GetOrAdd(to, StartDestination);
            }
        }

        Interlocked.Add(ref _enqueued, items.Count);
        foreach (var item in items)
        {
            if (item.Payload.Length > _largestPayload)
            {
                // Orleans would refuse the call that carried it and drop the connection with everything queued on it.
                Interlocked.Increment(ref _dropped);
                _instruments.MessagesDropped(1);
                LogMessageTooLarge(_logger, item.Payload.Length, item.GroupId, to, _largestPayload);
                continue;
            }
            if (item.GroupId == Replication.RosterGroup.GroupId) Interlocked.Increment(ref _metaEnqueued);
            _instruments.MessageQueued(item.Payload.Length);

            // Bounded with DropOldest: TryWrite always succeeds and the dropped item is counted by the callback.
            destination.Queue.Writer.TryWrite(item);
        }
    }

    // Stops are run from the highest stage down: stopping at RuntimeGrainServices keeps the transport sending through
    // a graceful stop's hand-over (Decommission, at Active) and the grains' deactivation (their replicas tell
    // followers the commit index as they resign), and ends it before the replication runtime stops.
    void ILifecycleParticipant<ISiloLifecycle>.Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(
            nameof(ReplicaTransport),
            ServiceLifecycleStage.RuntimeGrainServices,
            _ => Task.CompletedTask,
            StopAsync);

    private Destination StartDestination(SiloAddress silo)
    {
        var queue = Channel.CreateBounded<ReplicaEnvelopeItem>(
            new BoundedChannelOptions(_options.TransportQueueCapacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
                SingleWriter = false,
            },
            _ =>
            {
                Interlocked.Increment(ref _dropped);
                _instruments.MessagesDropped(1);
            });
        var destination = new Destination(queue);
        destination.Loop = Task.Run(() => RunSenderAsync(silo, queue.Reader));
        return destination;
    }

    private async Task RunSenderAsync(SiloAddress silo, ChannelReader<ReplicaEnvelopeItem> reader)
    {
        var maxBatch = _options.TransportMaxBatchMessages;
        long maxBytes = _options.TransportMaxBatchBytes;
        var host = _hosts.For(silo);
        long sequence = 0; // numbers this loop's batches so the receiver can restore their order
        ReplicaEnvelopeItem? carried = null; // read, but over the previous batch's byte bound: the next batch's first
        try
        {
            while (carried is not null || await reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                var items = new List<ReplicaEnvelopeItem>(Math.Min(reader.Count + 1, maxBatch));
                long bytes = 0;
                if (carried is { } first)
                {
                    items.Add(first);
                    bytes = first.Payload.Length;
                    carried = null;
                }
                // Bounded in bytes too: one call over Orleans' MaxMessageBodySize would be refused, and the connection
                // dropped with everything else queued on it (three 40 MB accepts in one batch did that).
                while (items.Count < maxBatch && reader.TryRead(out var item))
                {
                    if (items.Count > 0 && bytes + item.Payload.Length > maxBytes)
                    {
                        carried = item;
                        break;
                    }
                    items.Add(item);
                    bytes += item.Payload.Length;
                }

                try
                {
                    // One-way: completes once the call is handed to Orleans' messaging, not when it arrived.
                    await host.DeliverAsync(new ReplicaEnvelope(_localSilo, items, ++sequence)).ConfigureAwait(false);
                    Interlocked.Increment(ref _batchesDelivered);
                    _instruments.BatchSent(delivered: true);
                    Interlocked.Add(ref _messagesDelivered, items.Count);
                }
                catch (Exception exception) when (!_stopping.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _batchesFailed);
                    _instruments.BatchSent(delivered: false);
                    LogDeliveryFailed(_logger, exception, items.Count, silo);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Silo is stopping; whatever is queued is dropped like any undelivered message.
        }
    }

    // A graceful stop's last words: time for the engine to finish the steps the last deactivations posted, then for
    // the sender loops to empty their queues.
    private static readonly TimeSpan StopSettle = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan StopDrain = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Sends what is queued before stopping, briefly: the grains' deactivations just before this stage resign their
    /// groups, and a resignation carries the commit index and, with leases, the lease release. A release dropped here
    /// made the grain's next activation wait out the whole lease (2 s stalls of the calls that were in flight on the
    /// last activations to deactivate, session 26). Bounded: a peer that does not take them costs at most the drain.
    /// </summary>
    private async Task StopAsync(CancellationToken cancellationToken)
    {
        var loops = _destinations.Values.Select(d => d.Loop).Where(loop => loop is not null).Cast<Task>().ToList();
        try
        {
            await Task.Delay(StopSettle, cancellationToken).ConfigureAwait(false);
            foreach (var destination in _destinations.Values) destination.Queue.Writer.TryComplete();
            await Task.WhenAll(loops).WaitAsync(StopDrain, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
            // The host's deadline, or peers too slow to take the last messages: they are dropped like any undelivered message.
        }
        _stopping.Cancel();
        foreach (var destination in _destinations.Values) destination.Queue.Writer.TryComplete();
        try
        {
            await Task.WhenAll(loops).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutdown deadline reached; sender loops end on their own once their current call returns.
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A consensus message of {Bytes} bytes for group {GroupId} to {Silo} is larger than one Orleans call can carry "
        + "({Largest} bytes under SiloMessagingOptions.MaxMessageBodySize); it is dropped. A grain whose State (its snapshot) or one call this large "
        + "cannot be replicated to that silo: keep them smaller, or raise MaxMessageBodySize on every silo and client")]
    private static partial void LogMessageTooLarge(ILogger logger, int bytes, string groupId, SiloAddress silo, int largest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivering {Count} replica messages to {Silo} failed; they are dropped (consensus retransmits)")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception, int count, SiloAddress silo);

    private sealed class Destination(Channel<ReplicaEnvelopeItem> queue)
    {
        public Channel<ReplicaEnvelopeItem> Queue { get; } = queue;

        public Task? Loop { get; set; }
    }
}
