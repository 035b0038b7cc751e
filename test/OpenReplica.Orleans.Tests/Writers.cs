using System.Collections.Concurrent;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Background load for scale-out tests: a few writers deposit 1 into random accounts and count, per account, the
/// deposits acknowledged to them; every failed call is counted (and kept, to name it when a test fails).
/// </summary>
internal sealed class Writers : IAsyncDisposable
{
    private const int Concurrency = 8;
    private readonly IClusterClient _client;
    private readonly IReadOnlyList<string> _keys;
    private readonly ConcurrentDictionary<string, int> _acknowledged = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops;
    private long _calls;
    private long _slowestMs;

    public Writers(IClusterClient client, IReadOnlyList<string> keys)
    {
        _client = client;
        _keys = keys;
        _loops = [.. Enumerable.Range(0, Concurrency).Select(i => Task.Run(() => LoopAsync(i)))];
    }

    public sealed record Stats(long Acknowledged, int Errors, long SlowestMs, string FirstErrors);

    private async Task LoopAsync(int seed)
    {
        var random = new Random(seed);
        while (!_stop.IsCancellationRequested)
        {
            string key = _keys[random.Next(_keys.Count)];
            var started = DateTime.UtcNow;
            try
            {
                await _client.GetGrain<IAccountGrain>(key).Deposit(1);
                _acknowledged.AddOrUpdate(key, 1, (_, n) => n + 1);
                Interlocked.Increment(ref _calls);
            }
            catch (Exception e)
            {
                _errors.Enqueue($"{key}: {e.GetType().Name}: {e.Message}");
            }
            long ms = (long)(DateTime.UtcNow - started).TotalMilliseconds;
            long seen;
            while (ms > (seen = Interlocked.Read(ref _slowestMs)) && Interlocked.CompareExchange(ref _slowestMs, ms, seen) != seen)
            {
            }
            await Task.Delay(random.Next(0, 10));
        }
    }

    public async Task<Stats> StopAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_loops);
        return new Stats(Interlocked.Read(ref _calls), _errors.Count, Interlocked.Read(ref _slowestMs), string.Join(Environment.NewLine, _errors.Take(5)));
    }

    /// <summary>Every account holds its initial balance plus exactly the deposits acknowledged (none lost, none twice).</summary>
    public async Task AssertEveryAcknowledgedWriteAsync(IEnumerable<string> keys, decimal initial)
    {
        foreach (string key in keys)
        {
            decimal balance = await _client.GetGrain<IAccountGrain>(key).GetBalance();
            Assert.Equal(initial + _acknowledged.GetValueOrDefault(key), balance);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await StopAsync();
        _stop.Dispose();
    }
}
