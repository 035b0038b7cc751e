using OpenReplica.Orleans;
using Orleans.Concurrency;

namespace OpenReplica.Samples.KeyValue;

[GenerateSerializer]
public sealed class EntryState
{
    [Id(0)] public string? Value { get; set; }
    [Id(1)] public long Version { get; set; }
}

/// <summary>One key of the store: its own replicated grain, so keys spread over the replica sets.</summary>
public interface IEntryGrain : IGrainWithStringKey
{
    [ReadOnly] Task<EntryState> Get();

    /// <summary>Writes the value; returns the new version.</summary>
    Task<long> Put(string value);

    /// <summary>Writes only if the current value is <paramref name="expected"/> (null: absent).</summary>
    Task<bool> CompareAndSet(string? expected, string value);

    Task<bool> Delete();
}

public sealed class EntryGrain : ReplicatedGrain<EntryState>, IEntryGrain
{
    public Task<EntryState> Get() => Task.FromResult(new EntryState { Value = State.Value, Version = State.Version });

    public Task<long> Put(string value)
    {
        State.Value = value;
        return Task.FromResult(++State.Version);
    }

    public Task<bool> CompareAndSet(string? expected, string value)
    {
        if (State.Value != expected) return Task.FromResult(false);
        State.Value = value;
        State.Version++;
        return Task.FromResult(true);
    }

    public Task<bool> Delete()
    {
        bool existed = State.Value is not null;
        State.Value = null;
        State.Version++;
        return Task.FromResult(existed);
    }
}
