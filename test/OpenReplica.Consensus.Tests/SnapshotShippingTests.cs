using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

/// <summary>
/// <see cref="ReplicaOptions.ShipSnapshotsToFollowers"/>: grain groups' followers do not run the grain, so they
/// compact only when the leader ships its snapshot; they then hold no more log than the leader, in memory and on disk.
/// </summary>
public class SnapshotShippingTests
{
    [Fact]
    public void Followers_compact_to_the_leaders_snapshot()
    {
        var c = new Cluster(3, o => o.ShipSnapshotsToFollowers = true);
        c.Elect(1);
        c.Propose(1, "a", "b");
        c.Propose(1, "c");
        c.DeliverAll();
        c.Tick(1, 2);
        c.DeliverAll(); // the followers learn the commit index and apply
        Assert.Equal(2, c[2].CommitIndex);
        Assert.NotEmpty(c[2].Entries);

        c.Compact(1);
        c.DeliverAll();
        Assert.Equal(2, c.Delivered.OfType<InstallSnapshot>().Count(m => m.From == 1 && m.Snapshot.Slot == 2));
        foreach (long follower in new long[] { 2, 3 })
        {
            Assert.Equal(2, c[follower].SnapshotSlot);
            Assert.Empty(c[follower].Entries);
            Assert.Equal(2, c.Node(follower).Disk.Snapshot?.Slot); // persisted: a restart starts from it
            Assert.Equal(0, c.Node(follower).SnapshotsInstalled); // compacted, not a state transfer
        }

        // The log goes on after the snapshot on every replica.
        c.Propose(1, "d");
        c.DeliverAll();
        c.Tick(1, 2);
        c.DeliverAll();
        Assert.Equal(3, c[2].CommitIndex);
        Assert.Equal(["a", "b", "c", "d"], c.StateOf(2));
    }

    [Fact]
    public void A_follower_that_has_not_applied_the_slot_yet_keeps_its_log()
    {
        var c = new Cluster(3, o => o.ShipSnapshotsToFollowers = true);
        c.Elect(1);
        c.Propose(1, "a");
        c.DeliverAll(); // chosen at the leader; the followers have not heard the commit index yet
        Assert.Equal(0, c[2].CommitIndex);

        c.Compact(1);
        c.DeliverQueued(m => m is InstallSnapshot { To: 2 });
        // Behind the snapshot: it installs it as catch-up (it is a state transfer, not a compaction).
        Assert.Equal(1, c[2].SnapshotSlot);
        Assert.Equal(1, c.Node(2).SnapshotsInstalled);
    }

    [Fact]
    public void Without_the_option_followers_compact_on_their_own_only()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "a");
        c.DeliverAll();
        c.Tick(1, 2);
        c.DeliverAll();
        c.Compact(1);
        c.DeliverAll();
        Assert.Empty(c.Delivered.OfType<InstallSnapshot>());
        Assert.Equal(0, c[2].SnapshotSlot);
    }
}
