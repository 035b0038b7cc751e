using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class VolatileLogTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Records_come_back_in_append_order_with_the_same_retention_rules_as_the_durable_log()
    {
        await using var log = new VolatileLog();
        await log.AppendAsync(Logs.HardState("a", 1), Ct);
        await log.AppendAsync([Logs.Accept("a", 1), Logs.Accept("b", 1), Logs.Accept("a", 2)], Ct);
        await log.AppendAsync(Logs.HardState("a", 2), Ct);

        Assert.Equal(
            Logs.Keys([Logs.Accept("a", 1), Logs.Accept("b", 1), Logs.Accept("a", 2), Logs.HardState("a", 2)]),
            Logs.Keys(log.ReadAll()));
        Assert.Equal(Logs.Keys([Logs.Accept("b", 1)]), Logs.Keys(log.ReadAll("b")));
    }

    [Fact]
    public async Task The_payload_is_copied_so_callers_may_reuse_their_buffer()
    {
        await using var log = new VolatileLog();
        byte[] buffer = [1, 2, 3];
        await log.AppendAsync(new WalRecord("g", WalRecordKind.Accept, 1, 1, 1, buffer), Ct);
        buffer[0] = 99;
        Assert.Equal(new byte[] { 1, 2, 3 }, log.ReadAll().Single().Payload.ToArray());
    }

    [Fact]
    public async Task Snapshots_compact_and_deletion_forgets_the_group()
    {
        await using var log = new VolatileLog();
        for (int slot = 1; slot <= 5; slot++)
        {
            await log.AppendAsync(Logs.Accept("g", slot), Ct);
        }

        await log.SaveSnapshotAsync("g", 3, new byte[] { 3 }, Ct);
        Assert.Equal([4L, 5L], log.ReadAll("g").Select(r => r.Slot));
        Assert.Equal(3, log.LoadSnapshot("g")!.Value.Slot);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await log.SaveSnapshotAsync("g", 2, new byte[] { 2 }, Ct));

        await log.DeleteGroupAsync("g", Ct);
        Assert.Empty(log.ReadAll());
        Assert.Null(log.LoadSnapshot("g"));

        await log.AppendAsync(Logs.Accept("g", 1), Ct);
        Assert.Equal([1L], log.ReadAll("g").Select(r => r.Slot));
    }

    [Fact]
    public async Task Many_superseded_records_do_not_accumulate()
    {
        await using var log = new VolatileLog();
        for (int round = 1; round <= 5000; round++)
        {
            await log.AppendAsync(Logs.HardState("g", round), Ct);
        }

        Assert.Equal(5000, log.ReadAll().Single().BallotRound);
    }

    [Fact]
    public async Task Memory_tracks_the_retained_records_of_each_group()
    {
        await using var log = new VolatileLog();
        // Many groups, each rewriting its hard state: only the latest per group is retained, and what is held beyond
        // it is bounded per group (each group's list is pruned once it doubled), whatever the other groups do.
        for (int round = 1; round <= 200; round++)
        {
            for (int g = 0; g < 50; g++)
            {
                await log.AppendAsync(Logs.HardState($"g{g}", round), Ct);
            }
        }

        Assert.Equal(50, log.ReadAll().Count());
        Assert.InRange(log.RecordsHeld, 50, 50 * 16);

        // Entries stay until a snapshot covers them; the snapshot drops them at once.
        for (int slot = 1; slot <= 100; slot++)
        {
            await log.AppendAsync(Logs.Accept("g0", slot), Ct);
        }

        Assert.Equal(101, log.ReadAll("g0").Count());
        await log.SaveSnapshotAsync("g0", 100, new byte[] { 1 }, Ct);
        Assert.Single(log.ReadAll("g0"));
        Assert.InRange(log.RecordsHeld, 50, 50 * 16);

        // A deleted group leaves nothing behind.
        for (int g = 0; g < 50; g++)
        {
            await log.DeleteGroupAsync($"g{g}", Ct);
        }

        Assert.Equal(0, log.RecordsHeld);
        Assert.Empty(log.ReadAll());
    }
}
