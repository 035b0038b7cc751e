using System.Collections.Concurrent;

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>
/// Every grain read back and compared with its ledger: the counter must be at least its acknowledged increments
/// (less is a lost write) and at most those plus its failed calls, whose outcome the caller did not learn (more is an
/// increment applied twice).
/// </summary>
/// <param name="AppliedThoughFailed">Increments of failed calls that were applied (allowed: the caller was told the outcome is unknown).</param>
internal sealed record ExactlyOnceResult(int Grains, int Read, long Acknowledged, long Lost, long Duplicated, long AppliedThoughFailed,
    int GrainsWithLoss, int GrainsWithDuplicates, IReadOnlyList<string> Problems)
{
    public int Unreadable => Grains - Read;

    public bool Exact => Unreadable == 0 && Lost == 0 && Duplicated == 0;

    public static async Task<ExactlyOnceResult> CheckAsync(CounterLedger ledger, TimeSpan bound)
    {
        var values = new long?[ledger.Count];
        var problems = new ConcurrentQueue<string>();
        var deadline = DateTime.UtcNow + bound;
        await Parallel.ForEachAsync(Enumerable.Range(0, ledger.Count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            // A read is not a measured call: retried a few times so that one slow answer does not hide a grain's state.
            for (int attempt = 1; attempt <= 3 && DateTime.UtcNow < deadline; attempt++)
            {
                try
                {
                    values[i] = await ledger.Grain(i).Get();
                    return;
                }
                catch (Exception e) when (attempt == 3)
                {
                    if (problems.Count < 8) problems.Enqueue($"{ledger.Keys[i]} unreadable: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
                }
                catch (Exception)
                {
                }
            }
        });

        long lost = 0, duplicated = 0, appliedThoughFailed = 0;
        int grainsWithLoss = 0, grainsWithDuplicates = 0;
        for (int i = 0; i < ledger.Count; i++)
        {
            if (values[i] is not { } value) continue;
            long acknowledged = ledger.AcknowledgedOf(i), failed = ledger.FailedOf(i);
            if (value < acknowledged)
            {
                lost += acknowledged - value;
                grainsWithLoss++;
                if (problems.Count < 8) problems.Enqueue($"{ledger.Keys[i]}: counter {value}, {acknowledged} increments acknowledged");
            }
            else if (value > acknowledged + failed)
            {
                duplicated += value - acknowledged - failed;
                grainsWithDuplicates++;
                if (problems.Count < 8) problems.Enqueue($"{ledger.Keys[i]}: counter {value}, {acknowledged} acknowledged + {failed} failed");
            }
            else
            {
                appliedThoughFailed += value - acknowledged;
            }
        }
        return new ExactlyOnceResult(ledger.Count, values.Count(v => v is not null), ledger.TotalAcknowledged, lost, duplicated, appliedThoughFailed,
            grainsWithLoss, grainsWithDuplicates, [.. problems]);
    }
}
