using OpenReplica.Checker;
using static OpenReplica.Checker.Tests.H;

namespace OpenReplica.Checker.Tests;

public class KeyValueTests
{
    [Fact]
    public void KeysArePartitioned()
    {
        // As a single register this would fail (get y would have to see "1"); per key it is fine.
        Assert.Equal(Verdict.Linearizable, CheckKv(Put(0, "x", "1", 0, 1), Get(1, "y", null, 2, 3), Put(1, "y", "2", 4, 5), Get(0, "x", "1", 6, 7)));
    }

    [Fact]
    public void ViolationNamesItsPartition()
    {
        var result = Linearizability.Check(
            Models.KeyValue,
            [Put(0, "x", "1", 0, 1), Put(0, "y", "2", 2, 3), Get(1, "x", "1", 4, 5), Get(1, "y", "1", 6, 7)],
            Budget);
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Equal("y", result.PartitionKey);
        Assert.Equal(3, result.FailingOperation);
        Assert.Contains("partition key \"y\"", result.Explanation);
    }

    [Fact]
    public void ManyIndependentKeysAreCheckedSeparately()
    {
        // 200 keys x 8 fully concurrent puts and a read: hopeless as one register (millions of orders),
        // trivial per key.
        var history = new List<Operation<KvInput, KvOutput>>();
        for (var k = 0; k < 200; k++)
        {
            var key = $"k{k}";
            for (var p = 0; p < 8; p++)
            {
                history.Add(Put(p, key, $"{k}:{p}", 0, 100));
            }

            history.Add(Get(9, key, $"{k}:{k % 8}", 101, 102));
        }

        Assert.Equal(Verdict.Linearizable, Linearizability.Check(Models.KeyValue, history, Budget).Verdict);
    }

    [Fact]
    public void KvCasSemantics()
    {
        Assert.Equal(Verdict.Linearizable, CheckKv(KvCas(0, "x", null, "a", true, 0, 1), Get(0, "x", "a", 2, 3)));
        Assert.Equal(Verdict.NotLinearizable, CheckKv(KvCas(0, "x", "a", "b", true, 0, 1)));
        Assert.Equal(Verdict.Linearizable, CheckKv(KvCas(0, "x", "a", "b", false, 0, 1), Get(0, "x", null, 2, 3)));
        Assert.Equal(Verdict.NotLinearizable, CheckKv(Put(0, "x", "a", 0, 1), KvCas(0, "x", "a", "b", false, 2, 3)));
    }

    [Fact]
    public void KvIndeterminatePut()
    {
        Assert.Equal(Verdict.Linearizable, CheckKv(Put(0, "x", "a", 0, null), Get(1, "x", null, 1, 2), Get(1, "x", "a", 3, 4)));
        Assert.Equal(Verdict.NotLinearizable, CheckKv(Put(0, "x", "a", 0, null), Get(1, "x", "a", 1, 2), Get(1, "x", null, 3, 4)));
    }

    [Fact]
    public void ValuesAreComparedOrdinally()
        => Assert.Equal(Verdict.NotLinearizable, CheckKv(Put(0, "x", "A", 0, 1), Get(0, "x", "a", 2, 3)));
}
