using System.Collections.Concurrent;
using System.Diagnostics;

namespace OpenReplica.Chaos;

/// <summary>
/// Clients appending unique values to the lists of a few keys of a replicated map, and reading them. After healing,
/// a final read of every key must show: every acknowledged append exactly once, no value twice (a duplicated
/// append), no value nobody appended, appends in real-time order (one acknowledged before another was invoked comes
/// first); and every read during the run must be a prefix of the final list holding every append acknowledged before
/// the read was invoked (no stale or reordered read). Appends that timed out may appear at most once.
/// </summary>
internal sealed class AppendWorkload(IClusterClient client, int clients, int seed, TimeSpan callTimeout, Availability availability) : IChaosWorkload
{
    private const int Grains = 2;
    private const int KeysPerGrain = 3;
    private readonly Tally _tally = new();
    private readonly string _prefix = $"append-{seed}-{Guid.NewGuid():N}"[..28];
    private readonly ConcurrentQueue<(string List, long Value, long Invoked, long? Completed)> _appends = new();
    private readonly ConcurrentQueue<(string List, long[] Values, long Invoked)> _reads = new();

    public WorkloadKind Kind => WorkloadKind.Append;

    public bool Owns(string groupId) => groupId.Contains(_prefix, StringComparison.Ordinal);

    private IChaosAppendGrain Grain(int g) => client.GetGrain<IChaosAppendGrain>($"{_prefix}-{g}");

    public Task RunAsync(Stopwatch clock, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, clients).Select(c => ClientAsync(c, new Random(HashCode.Combine(seed, c, 7)), clock, stop)));

    private async Task ClientAsync(int clientNumber, Random random, Stopwatch clock, CancellationToken stop)
    {
        long next = 0;
        while (!stop.IsCancellationRequested)
        {
            int g = random.Next(Grains);
            string key = $"k{random.Next(KeysPerGrain)}";
            string list = $"{g}/{key}";
            var grain = Grain(g);
            bool read = random.Next(3) == 0;
            long call = clock.ElapsedTicks;
            long value = clientNumber * 10_000_000L + next++;
            try
            {
                if (read)
                {
                    _reads.Enqueue((list, await grain.Read(key).WaitAsync(Tally.ReadTimeout), call));
                }
                else
                {
                    await grain.Append(key, value).WaitAsync(callTimeout);
                    _appends.Enqueue((list, value, call, clock.ElapsedTicks));
                }
                availability.Ok(grain.GetPrimaryKeyString(), call, clock.ElapsedTicks);
                _tally.Ok();
            }
            catch (Exception) when (read)
            {
                _tally.Failed();
            }
            catch (Exception)
            {
                _appends.Enqueue((list, value, call, null)); // indeterminate: may appear (once) or not
                _tally.Unknown();
                await Task.Delay(100, CancellationToken.None);
            }
        }
    }

    public async Task<ChaosCellResult> CheckAsync(TimeSpan bound)
    {
        var final = new Dictionary<string, long[]>();
        var deadline = Stopwatch.StartNew();
        for (int g = 0; g < Grains; g++)
        {
            for (int k = 0; k < KeysPerGrain; k++)
            {
                string key = $"k{k}";
                while (true)
                {
                    try
                    {
                        final[$"{g}/{key}"] = await Grain(g).Read(key).WaitAsync(TimeSpan.FromSeconds(10));
                        break;
                    }
                    catch (Exception e) when (deadline.Elapsed < bound)
                    {
                        _ = e;
                        await Task.Delay(500);
                    }
                    catch (Exception e)
                    {
                        return _tally.Result("unknown (final read failed)", e.Message);
                    }
                }
            }
        }
        var problems = Problems(final).ToList();
        return _tally.Result(problems.Count == 0 ? "no lost/duplicated append" : "**append anomalies**", string.Join("; ", problems.Take(5)));
    }

    private IEnumerable<string> Problems(Dictionary<string, long[]> final)
    {
        var appendsByList = _appends.GroupBy(a => a.List).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var (list, values) in final)
        {
            var appends = appendsByList.GetValueOrDefault(list) ?? [];
            var attempted = appends.ToDictionary(a => a.Value);
            var position = new Dictionary<long, int>();
            for (int i = 0; i < values.Length; i++)
            {
                if (!position.TryAdd(values[i], i)) yield return $"{list}: value {values[i]} appears twice (duplicated append)";
                if (!attempted.ContainsKey(values[i])) yield return $"{list}: value {values[i]} was never appended";
            }
            foreach (var a in appends.Where(a => a.Completed is not null && !position.ContainsKey(a.Value)))
                yield return $"{list}: acknowledged append {a.Value} is lost";
            // Real-time order: an append acknowledged before another was invoked must come first.
            var acknowledged = appends.Where(a => a.Completed is not null && position.ContainsKey(a.Value)).OrderBy(a => a.Completed).ToList();
            foreach (var b in appends.Where(b => position.ContainsKey(b.Value)))
            {
                foreach (var a in acknowledged.TakeWhile(a => a.Completed < b.Invoked))
                {
                    if (position[a.Value] > position[b.Value]) { yield return $"{list}: append {a.Value} (acknowledged first) comes after {b.Value}"; break; }
                }
            }
            foreach (var r in _reads.Where(r => r.List == list))
            {
                if (r.Values.Length > values.Length || !r.Values.AsSpan().SequenceEqual(values.AsSpan(0, r.Values.Length)))
                {
                    yield return $"{list}: a read [{string.Join(",", r.Values.TakeLast(3))}] ({r.Values.Length} values) is not a prefix of the final list";
                    continue;
                }
                var seen = r.Values.ToHashSet();
                foreach (var a in acknowledged.TakeWhile(a => a.Completed < r.Invoked))
                {
                    if (!seen.Contains(a.Value)) { yield return $"{list}: a read misses append {a.Value}, acknowledged before the read (stale read)"; break; }
                }
            }
        }
    }
}
