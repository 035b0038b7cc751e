using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The detector's rules without a cluster: where digests are taken, when a replay compares, what clears a mismatch.
/// (DivergenceDetectionTests runs the same through a real failover.)
/// </summary>
public sealed class DivergenceDetectorTests
{
    private static readonly GrainId Grain = GrainId.Create("test", "drift");

    private static DivergenceMonitor Monitor(int every)
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        return new DivergenceMonitor(Options.Create(new ReplicatedGrainsOptions { DigestEveryCommands = every }), NullLogger<DivergenceMonitor>.Instance, meters);
    }

    private static long At(long slot) => CommandPayload.Position(slot, 0);

    [Fact]
    public void A_replay_that_reaches_another_digest_at_a_checkpoint_diverges_until_accepted()
    {
        var monitor = Monitor(every: 2);
        ulong liveState = 10, replayState = 10;
        var live = monitor.Track(Grain, () => liveState);
        var replay = monitor.Track(Grain, () => replayState);

        Assert.Null(live.OnApplied(At(1)));
        liveState = 11; // the non-deterministic command, live
        var checkpoint = live.OnApplied(At(2));
        Assert.NotNull(checkpoint);
        live.OnRecord(checkpoint); // the live activation agrees with itself
        Assert.Null(live.Diverged);

        Assert.Null(replay.OnApplied(At(1)));
        replayState = 12; // the same command, replayed
        Assert.NotNull(replay.OnApplied(At(2)));
        replay.OnRecord(checkpoint);
        var report = Assert.IsType<DivergenceReport>(replay.Diverged);
        Assert.Equal((2L, At(2), 11UL, 12UL, DivergenceSource.Checkpoint), (report.Slot, report.Position, report.ExpectedDigest, report.ActualDigest, report.Source));
        Assert.Throws<GrainDivergedException>(replay.ThrowIfDiverged);

        replay.OnRecord(DivergenceRecord.Acceptance(At(3), "fixed"));
        Assert.Null(replay.Diverged);
        replay.ThrowIfDiverged();
    }

    [Fact]
    public void A_checkpoint_off_the_periodic_positions_is_compared_while_the_replay_is_still_there()
    {
        var monitor = Monitor(every: 0);
        ulong state = 1;
        var live = monitor.Track(Grain, () => state);
        Assert.Null(live.OnApplied(At(5))); // periodic checkpoints off
        var atSnapshot = live.CheckpointAt(7);

        var replay = monitor.Track(Grain, () => state);
        replay.OnApplied(At(4));
        replay.OnRecord(atSnapshot); // not at position 5 yet: nothing to compare
        Assert.Null(replay.Diverged);
        replay.OnApplied(At(5));
        replay.OnRecord(atSnapshot); // at position 5: digest 1 against the recorded 7
        Assert.Equal(7UL, replay.Diverged!.ExpectedDigest);
    }

    [Fact]
    public void A_snapshot_that_does_not_read_back_to_its_digest_diverges()
    {
        var detector = Monitor(every: 0).Track(Grain, () => 3);
        detector.Restore(slot: 9, commandsApplied: 40, savedDigest: 3);
        Assert.Null(detector.Diverged);
        Assert.Equal(40, detector.CommandsApplied);

        detector.Restore(slot: 9, commandsApplied: 40, savedDigest: 4);
        Assert.Equal(DivergenceSource.Snapshot, detector.Diverged!.Source);
    }

    [Fact]
    public void A_state_that_cannot_be_digested_skips_the_check_instead_of_failing_the_command()
    {
        var detector = Monitor(every: 1).Track(Grain, () => throw new InvalidOperationException("a getter that throws"));
        Assert.Null(detector.OnApplied(At(1)));
        Assert.Null(detector.Diverged);
    }
}
