using System.Diagnostics;
using Orleans.Runtime;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// Makes the grains of one class deactivate now (rather than after Orleans' 15-minute idle age) and waits until
/// the silos report none of them active.
/// </summary>
internal static class Deactivation
{
    /// <summary>Activations of grain classes whose type name contains <paramref name="typeName"/>, over all silos.</summary>
    /// <remarks>Asked up to three times: on two busy cores a silo may answer after the client's response timeout.</remarks>
    public static async Task<int> CountAsync(IClusterClient client, string typeName)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var stats = await client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
                return stats.Where(s => s.GrainType.Contains(typeName, StringComparison.OrdinalIgnoreCase)).Sum(s => s.ActivationCount);
            }
            catch (TimeoutException) when (attempt < 3)
            {
            }
        }
    }

    /// <summary>
    /// Collects every idle activation and polls until none of <paramref name="typeName"/> is left or
    /// <paramref name="bound"/> passes; collection is asked again on each poll (an activation busy at the first
    /// request is idle by the next). Returns how long it took and how many were still active (-1: the silos never
    /// answered in time).
    /// </summary>
    public static async Task<(TimeSpan Took, int Left)> CollectAsync(IClusterClient client, string typeName, TimeSpan bound)
    {
        var management = client.GetGrain<IManagementGrain>(0);
        var sw = Stopwatch.StartNew();
        int left = -1;
        while (true)
        {
            try
            {
                await management.ForceActivationCollection(TimeSpan.Zero);
                left = await CountAsync(client, typeName);
            }
            catch (TimeoutException)
            {
                // Collecting 100,000 activations outlasts the client's 7 s response timeout; the silos go on
                // collecting, so keep polling.
            }
            if (left == 0 || sw.Elapsed > bound) break;
            await Task.Delay(250);
        }
        return (sw.Elapsed, left);
    }
}
