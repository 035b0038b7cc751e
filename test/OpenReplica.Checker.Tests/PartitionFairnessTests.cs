using OpenReplica.Checker;
using static OpenReplica.Checker.Tests.H;

namespace OpenReplica.Checker.Tests;

/// <summary>Partitions are searched fairly: a hard partition does not hide a violation in another one, and an unknown
/// verdict names the partitions that were not decided.</summary>
public class PartitionFairnessTests
{
    /// <summary>30 fully concurrent puts and a concurrent get of a value nobody put: not linearizable, but the search
    /// has to try every subset of puts first (2^30 configurations), far beyond any budget used here.</summary>
    internal static IEnumerable<Operation<KvInput, KvOutput>> Hard(string key)
    {
        for (var i = 0; i < 30; i++)
        {
            yield return Put(i, key, $"v{i}", i, 100 + i);
        }

        yield return Get(99, key, "nobody wrote this", 40, 200);
    }

    internal static IEnumerable<Operation<KvInput, KvOutput>> Easy(string key, int offset)
    {
        yield return Put(0, key, "1", offset, offset + 1);
        yield return Append(1, key, "2", offset + 2, offset + 3);
        yield return Get(2, key, "12", offset + 4, offset + 5);
    }

    /// <summary>A stale read after two sequential puts: fails within a handful of search steps.</summary>
    internal static IEnumerable<Operation<KvInput, KvOutput>> FailsFast(string key, int offset)
    {
        yield return Put(0, key, "1", offset, offset + 1);
        yield return Put(0, key, "2", offset + 2, offset + 3);
        yield return Get(1, key, "1", offset + 4, offset + 5);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void LaterFailingKeyIsFoundDespiteAHardFirstKey(int parallelism)
    {
        // The hard key comes first (and twice, so with two threads both are busy with hard keys).
        var history = Hard("hard-1").Concat(Hard("hard-2")).Concat(Easy("easy", 300)).Concat(FailsFast("bad", 400)).ToList();
        var result = Linearizability.Check(
            Models.KeyValue,
            history,
            new CheckOptions { Budget = TimeSpan.FromSeconds(60), Parallelism = parallelism });

        // Searching keys one after another would spend the whole minute on "hard-1" and answer Unknown.
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Equal("bad", result.PartitionKey);
        Assert.Equal(history.Count - 1, result.FailingOperation);
        var bad = Assert.Single(result.Partitions, p => p.Verdict == Verdict.NotLinearizable);
        Assert.Equal("bad", bad.Key);

        // The search stopped at the violation: the hard keys were left undecided, not searched to the end.
        Assert.All(result.Partitions.Where(p => p.Key!.StartsWith("hard", StringComparison.Ordinal)), p => Assert.Equal(Verdict.Unknown, p.Verdict));
    }

    [Fact]
    public void UnknownOnlyWhenNothingFailedAndNamesTheUndecidedPartitions()
    {
        var history = Easy("a", 0).Concat(Hard("hard")).Concat(Easy("b", 300)).ToList();
        var result = Linearizability.Check(Models.KeyValue, history, new CheckOptions { Budget = TimeSpan.FromMilliseconds(300), Parallelism = 1 });
        Assert.Equal(Verdict.Unknown, result.Verdict);
        Assert.Equal(["hard"], result.UndecidedPartitions);
        Assert.Equal("hard", result.PartitionKey);
        Assert.Contains("\"hard\"", result.Explanation);
        Assert.Contains("1 of 3 partition(s) undecided", result.Explanation);
        Assert.Equal(
            [("a", Verdict.Linearizable), ("hard", Verdict.Unknown), ("b", Verdict.Linearizable)],
            result.Partitions.Select(p => (p.Key, p.Verdict)));
    }

    [Fact]
    public void UndecidedPartitionRecordsTheLongestPartialLinearization()
    {
        var history = Hard("hard").Concat(Easy("easy", 300)).ToList();
        var result = Linearizability.Check(
            Models.KeyValue,
            history,
            new CheckOptions { Budget = TimeSpan.FromMilliseconds(300), Parallelism = 1, RecordLinearizations = true });
        Assert.Equal(Verdict.Unknown, result.Verdict);

        // The search got at least as far as linearizing all 30 puts (any order), but never the impossible get.
        var hard = result.Partitions.Single(p => p.Key == "hard");
        Assert.Equal(30, hard.Linearization!.Count);
        Assert.DoesNotContain(30, hard.Linearization.Select(s => s.Operation));
        Assert.Equal($"\"{history[hard.Linearization[^1].Operation].Input.Value}\"", hard.Linearization[^1].State);

        // The decided partition has its full linearization.
        var easy = result.Partitions.Single(p => p.Key == "easy");
        Assert.Equal([31, 32, 33], easy.Linearization!.Select(s => s.Operation));
        Assert.Equal(["\"1\"", "\"12\"", "\"12\""], easy.Linearization!.Select(s => s.State));
    }

    [Fact]
    public void ManyPartitionsOnSeveralThreadsGiveTheSameVerdicts()
    {
        var rng = new Random(7);
        for (var round = 0; round < 20; round++)
        {
            var history = new List<Operation<KvInput, KvOutput>>();
            var failing = rng.Next(-1, 40);
            for (var k = 0; k < 40; k++)
            {
                history.AddRange(k == failing ? FailsFast($"k{k}", 10 * k) : Easy($"k{k}", 10 * k));
            }

            var one = Linearizability.Check(Models.KeyValue, history, new CheckOptions { Budget = Budget, Parallelism = 1 });
            var four = Linearizability.Check(Models.KeyValue, history, new CheckOptions { Budget = Budget, Parallelism = 4 });
            var expected = failing < 0 ? Verdict.Linearizable : Verdict.NotLinearizable;
            Assert.Equal(expected, one.Verdict);
            Assert.Equal(expected, four.Verdict);
            if (failing >= 0)
            {
                Assert.Equal($"k{failing}", four.PartitionKey);
            }
        }
    }

    /// <summary>The key-value model, except that any operation on key "boom" throws.</summary>
    private sealed class ThrowingModel : IModel<string?, KvInput, KvOutput>
    {
        public string? Init() => null;

        public (bool Ok, string? Next) Step(string? state, KvInput input, KvOutput? output)
            => input.Key == "boom" ? throw new InvalidOperationException("model failure on boom") : Models.KeyValue.Step(state, input, output);

        public string? PartitionKey(KvInput input) => input.Key;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ModelExceptionOnAnyThreadIsRethrownByCheck(int parallelism)
    {
        // The hard keys keep the search busy past the moment helper threads start, so "boom" may be searched on one.
        var history = Hard("hard-1").Concat(Hard("hard-2")).Concat(Easy("boom", 300)).ToList();
        var e = Assert.Throws<InvalidOperationException>(() => Linearizability.Check(
            new ThrowingModel(),
            history,
            new CheckOptions { Budget = TimeSpan.FromSeconds(60), Parallelism = parallelism }));
        Assert.Equal("model failure on boom", e.Message);
    }

    [Fact]
    public void ParallelismBelowOneIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Linearizability.Check(Models.KeyValue, [.. Easy("a", 0)], new CheckOptions { Parallelism = 0 }));
        Assert.Contains("Parallelism", e.Message);
    }
}
