using System.Collections.Concurrent;
using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary>
/// A group's deletion and a snapshot save of the same group that overlap (a silo drops a replica while its activation
/// still saves a snapshot: engine seed 8860) leave the index and the snapshot files agreeing with each other.
/// </summary>
public sealed class SnapshotDeletionRaceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void A_snapshot_saved_while_a_deletion_waits_for_its_tombstone_keeps_its_file()
    {
        var fs = new FaultyFileSystem();
        var options = Logs.Options(fs);
        options.ManualWriter = true; // the test decides when the tombstone becomes durable
        WriteAheadLog wal = WriteAheadLog.Open(options);
        var context = new StepContext();
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            Assert.True(wal.SaveSnapshotAsync("g", 10, new byte[] { 1 }, Ct).IsCompletedSuccessfully);

            // The deletion's tombstone is queued; the snapshot save comes while it is not yet durable. (No cancellation
            // token: waiting on one would resume on the thread pool, outside this test's one thread.)
            ValueTask deletion = wal.DeleteGroupAsync("g", CancellationToken.None);
            ValueTask save = wal.SaveSnapshotAsync("g", 46, new byte[] { 4, 6 }, CancellationToken.None);

            // The tombstone becomes durable; then whatever continuations are due run, until both are done.
            Assert.True(wal.RunWriterOnce());
            for (int round = 0; round < 10 && !(deletion.IsCompleted && save.IsCompleted); round++)
            {
                context.RunPending();
                wal.RunWriterOnce();
            }

            Assert.True(deletion.IsCompletedSuccessfully, "the deletion did not finish");
            Assert.True(save.IsCompletedSuccessfully, "the snapshot save did not finish");
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        // The save came after the deletion began, so it belongs to the group's next incarnation and is kept whole:
        // its file is there, and the index knows it (an older snapshot is refused, as below any real snapshot).
        (long Slot, byte[] Data) snapshot = wal.LoadSnapshot("g")!.Value;
        Assert.Equal(46, snapshot.Slot);
        Assert.Equal([4, 6], snapshot.Data);
        var refused = Assert.Throws<InvalidOperationException>(() => wal.SaveSnapshotAsync("g", 0, new byte[] { 0 }, Ct).AsTask().GetAwaiter().GetResult());
        Assert.Contains("already has a snapshot at slot 46", refused.Message);
    }

    [Fact]
    public async Task A_snapshot_saved_before_a_deletion_goes_with_the_group()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            await wal.SaveSnapshotAsync("g", 46, new byte[] { 4, 6 }, Ct);
            await wal.DeleteGroupAsync("g", Ct);
            Assert.Null(wal.LoadSnapshot("g"));
            // Nothing is left that could refuse the group's first snapshot of its next incarnation.
            await wal.SaveSnapshotAsync("g", 0, new byte[] { 0 }, Ct);
        }

        await using WriteAheadLog reopened = Logs.Open(fs);
        Assert.Equal(0, reopened.LoadSnapshot("g")!.Value.Slot);
    }

    /// <summary>A synchronization context that runs posted continuations only when told to (one thread, no races).</summary>
    private sealed class StepContext : SynchronizationContext
    {
        private readonly ConcurrentQueue<(SendOrPostCallback Callback, object? State)> _pending = new();

        public override void Post(SendOrPostCallback d, object? state) => _pending.Enqueue((d, state));

        public override void Send(SendOrPostCallback d, object? state) => d(state);

        public override SynchronizationContext CreateCopy() => this;

        public void RunPending()
        {
            while (_pending.TryDequeue(out var work)) work.Callback(work.State);
        }
    }
}
