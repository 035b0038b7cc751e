namespace OpenReplica.LoadTest;

/// <summary>What a cell's callers call: a set of grains or keys, by index, with a write and a read.</summary>
internal interface ILoadTarget
{
    int Count { get; }

    Task WriteAsync(int index);

    Task ReadAsync(int index);
}

/// <summary>Counter grains of one class: <c>Increment</c> writes, <c>[ReadOnly] Get</c> reads.</summary>
internal sealed class GrainTarget(ICounterGrain[] grains) : ILoadTarget
{
    public int Count => grains.Length;

    public ICounterGrain[] Grains => grains;

    public Task WriteAsync(int index) => grains[index].Increment();

    public Task ReadAsync(int index) => grains[index].Get();

    /// <summary>The hot grain is "hot"; the spread grains are g-0 ... g-(count-1) (another prefix for other uses).</summary>
    public static GrainTarget Of(IClusterClient client, string grainClass, int count, string prefix = "g") => new(count == 1
        ? [client.GetGrain<ICounterGrain>("hot", grainClass)]
        : [.. Enumerable.Range(0, count).Select(i => client.GetGrain<ICounterGrain>($"{prefix}-{i}", grainClass))]);
}
