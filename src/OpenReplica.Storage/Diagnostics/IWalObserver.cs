namespace OpenReplica.Storage;

/// <summary>
/// Told by the <see cref="WriteAheadLog"/> what it wrote, for metrics. Storage stays free of any metrics library: the
/// host (OpenReplica.Orleans) implements this on its <c>Meter</c>. Called on the writer thread right after a batch is
/// durable, so an implementation must be quick and must not throw.
/// </summary>
public interface IWalObserver
{
    /// <summary>One write + fsync made <paramref name="records"/> records (<paramref name="bytes"/> bytes) durable.</summary>
    /// <param name="records">Records in the batch (appends of every group written together).</param>
    /// <param name="bytes">Bytes written to the segment.</param>
    /// <param name="fsyncTime">How long the write and its fsync took.</param>
    void OnBatchDurable(int records, long bytes, TimeSpan fsyncTime);
}
