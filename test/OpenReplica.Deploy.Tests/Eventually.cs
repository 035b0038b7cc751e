using System.Diagnostics;

namespace OpenReplica.Deploy.Tests;

/// <summary>Waits for a condition these tests expect to become true within a minute, polling every 50 ms.</summary>
internal static class Eventually
{
    public static async Task UntilAsync(Func<bool> condition, string what, CancellationToken cancellationToken)
    {
        var limit = Stopwatch.StartNew();
        while (!condition())
        {
            if (limit.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"not within 60 s: {what}");
            await Task.Delay(50, cancellationToken);
        }
    }
}
