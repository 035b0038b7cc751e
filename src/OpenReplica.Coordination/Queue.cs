using Orleans.Concurrency;
using OpenReplica.Orleans;

namespace OpenReplica.Coordination;

/// <summary>A replicated FIFO queue of strings; <see cref="Dequeue"/> blocks while it is empty (waiters served FIFO).</summary>
public interface IQueueGrain : IGrainWithStringKey
{
    /// <summary>Appends an item (or hands it to the first waiting <see cref="Dequeue"/>). <see cref="ArgumentNullException"/> for null.</summary>
    Task Enqueue(string item);

    /// <summary>Removes and returns the first item, waiting while the queue is empty.</summary>
    Task<string> Dequeue();

    /// <summary>Removes and returns the first item, or null if the queue is empty (does not wait).</summary>
    Task<string?> TryDequeue();

    /// <summary>Items in the queue (not counting waiting callers).</summary>
    [ReadOnly] Task<int> Count();

    /// <summary>Callers blocked in <see cref="Dequeue"/>.</summary>
    [ReadOnly] Task<int> WaitingCount();
}

[GenerateSerializer]
internal sealed class QueueState
{
    [Id(0)] public Queue<string> Items { get; set; } = new();
    [Id(1)] public List<CallId> Waiters { get; set; } = [];
}

internal sealed class QueueGrain : ReplicatedGrain<QueueState>, IQueueGrain
{
    public Task Enqueue(string item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (State.Waiters.Count > 0)
        {
            var waiter = State.Waiters[0];
            State.Waiters.RemoveAt(0);
            Replicated.Complete(waiter, item);
        }
        else
        {
            State.Items.Enqueue(item);
        }

        return Task.CompletedTask;
    }

    public Task<string> Dequeue()
    {
        if (State.Items.TryDequeue(out var item)) return Task.FromResult(item);
        State.Waiters.Add(Replicated.Call);
        return Replicated.Defer<string>();
    }

    public Task<string?> TryDequeue() => Task.FromResult(State.Items.TryDequeue(out var item) ? item : null);

    public Task<int> Count() => Task.FromResult(State.Items.Count);

    public Task<int> WaitingCount() => Task.FromResult(State.Waiters.Count);
}
