using Orleans.Concurrency;
using OpenReplica.Orleans;

namespace OpenReplica.Coordination;

/// <summary>A replicated string → string map with compare-and-set.</summary>
public interface IMapGrain : IGrainWithStringKey
{
    /// <summary>The value of <paramref name="key"/>, or null.</summary>
    [ReadOnly] Task<string?> Get(string key);

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/>; returns the previous value or null. Null key or value: <see cref="ArgumentNullException"/>.</summary>
    Task<string?> Put(string key, string value);

    /// <summary>Removes <paramref name="key"/>; returns whether it was present.</summary>
    Task<bool> Remove(string key);

    /// <summary>
    /// Sets <paramref name="key"/> to <paramref name="value"/> if its current value is <paramref name="expected"/>
    /// (null: the key must be absent). A null <paramref name="value"/> removes the key. Returns whether it changed.
    /// </summary>
    Task<bool> CompareAndSet(string key, string? expected, string? value);

    /// <summary>The number of keys.</summary>
    [ReadOnly] Task<int> Count();
}

[GenerateSerializer]
internal sealed class MapState
{
    [Id(0)] public Dictionary<string, string> Entries { get; set; } = [];
}

internal sealed class MapGrain : ReplicatedGrain<MapState>, IMapGrain
{
    public Task<string?> Get(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Task.FromResult(State.Entries.GetValueOrDefault(key));
    }

    public Task<string?> Put(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        State.Entries.TryGetValue(key, out var previous);
        State.Entries[key] = value;
        return Task.FromResult(previous);
    }

    public Task<bool> Remove(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Task.FromResult(State.Entries.Remove(key));
    }

    public Task<bool> CompareAndSet(string key, string? expected, string? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (State.Entries.GetValueOrDefault(key) != expected) return Task.FromResult(false);
        if (value is null) State.Entries.Remove(key);
        else State.Entries[key] = value;
        return Task.FromResult(true);
    }

    public Task<int> Count() => Task.FromResult(State.Entries.Count);
}
