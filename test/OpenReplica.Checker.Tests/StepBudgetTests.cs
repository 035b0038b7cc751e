using OpenReplica.Checker;
using static OpenReplica.Checker.Tests.H;

namespace OpenReplica.Checker.Tests;

/// <summary>A step budget per partition decides "unknown" the same way on any machine, load or thread count.</summary>
public class StepBudgetTests
{
    /// <summary><paramref name="puts"/> concurrent puts and a concurrent get of a value nobody put: not linearizable,
    /// but only after the search tried every subset of the puts (2^puts configurations).</summary>
    private static IEnumerable<Operation<KvInput, KvOutput>> Hard(string key, int puts)
    {
        for (var i = 0; i < puts; i++)
        {
            yield return Put(i, key, $"v{i}", i, 100 + i);
        }

        yield return Get(99, key, "nobody wrote this", 40, 200);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Partitions_over_their_steps_are_unknown_and_the_rest_decided(int parallelism)
    {
        var history = Hard("hard-1", 30).Concat(Hard("hard-2", 30)).Concat(PartitionFairnessTests.Easy("easy", 300)).ToList();
        var result = Linearizability.Check(
            Models.KeyValue,
            history,
            new CheckOptions { Budget = TimeSpan.FromMinutes(5), MaxStepsPerPartition = 50_000, Parallelism = parallelism });

        Assert.Equal(Verdict.Unknown, result.Verdict);
        Assert.Contains("step budget (50,000 per partition) ran out", result.Explanation);
        Assert.True(result.OutOfSteps);
        Assert.Equal(
            [("hard-1", Verdict.Unknown), ("hard-2", Verdict.Unknown), ("easy", Verdict.Linearizable)],
            result.Partitions.Select(p => (p.Key, p.Verdict)).ToArray());
    }

    [Fact]
    public void The_verdict_does_not_depend_on_the_thread_count()
    {
        var history = Hard("hard-1", 30).Concat(Hard("hard-2", 30)).Concat(PartitionFairnessTests.Easy("easy", 300)).ToList();
        string Explain(int parallelism) => Linearizability.Check(
            Models.KeyValue,
            history,
            new CheckOptions { Budget = TimeSpan.FromMinutes(5), MaxStepsPerPartition = 300_000, Parallelism = parallelism }).Explanation!;

        // The explanation counts the search steps taken: equal counts mean every partition stopped at the same point.
        Assert.Equal(Explain(1), Explain(2));
    }

    [Fact]
    public void A_violation_found_within_the_steps_is_reported_and_one_beyond_them_is_not()
    {
        var history = Hard("k", 10).ToList();
        var enough = Linearizability.Check(Models.KeyValue, history, new CheckOptions { Budget = TimeSpan.FromMinutes(5), MaxStepsPerPartition = 10_000_000 });
        Assert.Equal(Verdict.NotLinearizable, enough.Verdict);

        var tooFew = Linearizability.Check(Models.KeyValue, history, new CheckOptions { Budget = TimeSpan.FromMinutes(5), MaxStepsPerPartition = 100 });
        Assert.Equal(Verdict.Unknown, tooFew.Verdict);
        Assert.Contains("step budget", tooFew.Explanation);
    }

    [Fact]
    public void A_step_budget_below_one_is_refused_by_name()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Linearizability.Check(Models.KeyValue, Hard("k", 2).ToList(), new CheckOptions { MaxStepsPerPartition = 0 }));
        Assert.Contains("MaxStepsPerPartition", e.Message);
    }
}
