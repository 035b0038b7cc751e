using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary><see cref="GroupIdSet"/>: the compact set of every group a silo holds (its behaviour against a HashSet).</summary>
public sealed class GroupIdSetTests
{
    [Fact]
    public void It_behaves_like_a_set_of_strings_through_adds_removes_and_its_own_compaction()
    {
        var set = new GroupIdSet();
        var oracle = new HashSet<string>(StringComparer.Ordinal);
        var random = new Random(12);
        // Short ids, ids over 127 UTF-8 bytes (two-byte length), non-ASCII ids; enough removals to compact several times.
        string IdOf(int n) => (n % 7) switch
        {
            0 => $"3|counter/{n}-" + new string('x', 130 + n % 50),
            1 => $"5|grüße/ключ-{n}",
            _ => $"3|counter/{n}",
        };
        for (int round = 0; round < 40_000; round++)
        {
            string id = IdOf(random.Next(6_000));
            if (random.Next(3) == 0) Assert.Equal(oracle.Remove(id), set.Remove(id));
            else Assert.Equal(oracle.Add(id), set.Add(id));
        }

        Assert.Equal(oracle.Count, set.Count);
        Assert.Equal(oracle.Order(StringComparer.Ordinal), set.Order(StringComparer.Ordinal));
        for (int n = 0; n < 6_000; n++) Assert.Equal(oracle.Contains(IdOf(n)), set.Contains(IdOf(n)));
    }

    [Fact]
    public void A_snapshot_keeps_what_the_set_held_when_it_was_taken()
    {
        var set = new GroupIdSet();
        for (int n = 0; n < 20_000; n++) set.Add($"3|g/{n}");
        var snapshot = set.Snapshot();

        // Removals that compact the set's storage and additions that grow it, after the snapshot.
        for (int n = 0; n < 20_000; n += 2) set.Remove($"3|g/{n}");
        for (int n = 20_000; n < 30_000; n++) set.Add($"3|g/{n}");

        Assert.Equal(20_000, snapshot.Count);
        Assert.Equal(Enumerable.Range(0, 20_000).Select(n => $"3|g/{n}").Order(StringComparer.Ordinal), snapshot.Order(StringComparer.Ordinal));
        Assert.Equal(20_000, set.Count);
    }

    [Fact]
    public void It_costs_far_less_than_a_hash_set_per_id()
    {
        var set = new GroupIdSet();
        const int Ids = 100_000;
        for (int n = 0; n < Ids; n++) set.Add($"3|replicatedcounter/grain-{n:D6}"); // 32 characters
        double perId = (double)set.AllocatedBytes / Ids;
        // 32 bytes of id + 1 of length + a 4-byte slot at a load between 1/4 and 3/4 (+ the chunks' unused tails).
        Assert.InRange(perId, 33 + 4 / 0.75, 33 + 4 / 0.25 + 1);
    }

    [Fact]
    public void An_id_longer_than_a_wal_group_id_is_refused_with_a_clear_error()
    {
        var set = new GroupIdSet();
        var error = Assert.Throws<ArgumentException>(() => set.Add(new string('a', RecordCodec.MaxGroupIdBytes + 1)));
        Assert.Contains("longer than", error.Message);
    }
}
