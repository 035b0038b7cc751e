using OpenReplica.Checker;
using static OpenReplica.Checker.Tests.H;

namespace OpenReplica.Checker.Tests;

/// <summary>Append and delete in the key-value model, and Porcupine's kv histories (get/put/append, keys start "").</summary>
public class KeyValueAppendTests
{
    private static Verdict CheckEmpty(params Operation<KvInput, KvOutput>[] history)
        => Linearizability.Check(Models.KeyValueStartingEmpty, history, Budget).Verdict;

    [Fact]
    public void AppendConcatenatesInLinearizationOrder()
    {
        // Two concurrent appends: either order is fine, but a read must see one of the two concatenations.
        Assert.Equal(Verdict.Linearizable, CheckKv(Append(0, "x", "a", 0, 10), Append(1, "x", "b", 0, 10), Get(2, "x", "ba", 11, 12)));
        Assert.Equal(Verdict.Linearizable, CheckKv(Append(0, "x", "a", 0, 10), Append(1, "x", "b", 0, 10), Get(2, "x", "ab", 11, 12)));
        Assert.Equal(Verdict.NotLinearizable, CheckKv(Append(0, "x", "a", 0, 10), Append(1, "x", "b", 0, 10), Get(2, "x", "b", 11, 12)));

        // Sequential appends cannot be reordered, and an append is not a put.
        Assert.Equal(Verdict.NotLinearizable, CheckKv(Append(0, "x", "a", 0, 1), Append(0, "x", "b", 2, 3), Get(2, "x", "ba", 4, 5)));
        Assert.Equal(Verdict.NotLinearizable, CheckKv(Put(0, "x", "a", 0, 1), Append(0, "x", "b", 2, 3), Get(2, "x", "b", 4, 5)));
        Assert.Equal(Verdict.Linearizable, CheckKv(Put(0, "x", "a", 0, 1), Append(0, "x", "b", 2, 3), Get(2, "x", "ab", 4, 5)));
    }

    [Fact]
    public void InitialValueIsAbsentOrEmptyByModel()
    {
        // Absent-start model: a fresh key reads null; an append to it starts from the empty string.
        Assert.Equal(Verdict.Linearizable, CheckKv(Get(0, "x", null, 0, 1), Append(0, "x", "a", 2, 3), Get(0, "x", "a", 4, 5)));
        Assert.Equal(Verdict.NotLinearizable, CheckKv(Get(0, "x", "", 0, 1)));

        // Porcupine's model: every key starts as "".
        Assert.Equal(Verdict.Linearizable, CheckEmpty(Get(0, "x", "", 0, 1), Append(0, "x", "a", 2, 3), Get(0, "x", "a", 4, 5)));
        Assert.Equal(Verdict.NotLinearizable, CheckEmpty(Get(0, "x", null, 0, 1)));
    }

    [Fact]
    public void DeleteResetsTheKey()
    {
        Assert.Equal(Verdict.Linearizable, CheckKv(Put(0, "x", "a", 0, 1), Delete(0, "x", 2, 3), Get(1, "x", null, 4, 5)));
        Assert.Equal(Verdict.NotLinearizable, CheckKv(Put(0, "x", "a", 0, 1), Delete(0, "x", 2, 3), Get(1, "x", "a", 4, 5)));
        Assert.Equal(Verdict.Linearizable, CheckEmpty(Append(0, "x", "a", 0, 1), Delete(0, "x", 2, 3), Get(1, "x", "", 4, 5)));
    }

    [Fact]
    public void IndeterminateAppendMayTakeEffectLateOrNever()
    {
        Assert.Equal(Verdict.Linearizable, CheckKv(Append(0, "x", "a", 0, null), Get(1, "x", null, 1, 2), Get(1, "x", "a", 3, 4)));
        Assert.Equal(Verdict.Linearizable, CheckKv(Append(0, "x", "a", 0, null), Get(1, "x", null, 1, 2), Get(1, "x", null, 3, 4)));
        Assert.Equal(Verdict.NotLinearizable, CheckKv(Append(0, "x", "a", 0, null), Get(1, "x", "aa", 1, 2)));
    }

    [Fact]
    public void AppendAgreesWithTheBruteForceOracle()
    {
        // Random small histories of one key with appends, puts, gets; the search must agree with trying every order.
        var random = new Random(1234);
        for (var round = 0; round < 1500; round++)
        {
            var history = new List<Operation<KvInput, KvOutput>>();
            var count = random.Next(1, 7);
            for (var i = 0; i < count; i++)
            {
                var call = random.Next(0, 20);
                long? ret = random.Next(10) == 0 ? null : call + random.Next(0, 8);
                var value = ((char)('a' + random.Next(3))).ToString();
                history.Add(random.Next(3) switch
                {
                    0 => Append(i, "k", value, call, ret),
                    1 => Put(i, "k", value, call, ret),
                    _ => Get(i, "k", random.Next(4) == 0 ? null : value + (random.Next(2) == 0 ? "" : "a"), call, ret),
                });
            }

            var expected = BruteForceOracleTests.BruteForce(Models.KeyValue, history) ? Verdict.Linearizable : Verdict.NotLinearizable;
            Assert.Equal(expected, Linearizability.Check(Models.KeyValue, history, new CheckOptions { Budget = Budget, Explain = false }).Verdict);
        }
    }

    public static TheoryData<string, bool> PorcupineKvHistories() => new()
    {
        { "c01-ok.txt", true }, { "c01-bad.txt", false },
        { "c10-ok.txt", true }, { "c10-bad.txt", false },
        { "c50-ok.txt", true }, { "c50-bad.txt", false },
    };

    [Theory]
    [MemberData(nameof(PorcupineKvHistories))]
    public void PorcupineKvHistoryGetsPorcupinesVerdict(string file, bool linearizable)
    {
        var dir = PorcupineKvDir();
        if (dir is null)
        {
            Assert.Skip("Porcupine kv histories not found: expected test/testdata/porcupine-kv in the repository.");
        }

        var history = EdnHistoryReader.ReadKeyValueFile(Path.Combine(dir, file));
        Assert.Contains(history, o => o.Input.Op == KvOp.Append);
        var result = Linearizability.Check(Models.KeyValueStartingEmpty, history, TimeSpan.FromSeconds(120));
        Assert.Equal(linearizable ? Verdict.Linearizable : Verdict.NotLinearizable, result.Verdict);
        if (!linearizable)
        {
            Assert.NotNull(result.FailingOperation);
            Assert.Equal(history[result.FailingOperation!.Value].Input.Key, result.PartitionKey);
        }
    }
}
