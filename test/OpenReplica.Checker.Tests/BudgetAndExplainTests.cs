using OpenReplica.Checker;
using static OpenReplica.Checker.Tests.H;

namespace OpenReplica.Checker.Tests;

public class BudgetAndExplainTests
{
    /// <summary>30 fully concurrent writes and a concurrent read of a value nobody wrote: the search has to try
    /// every subset of writes (times each last value) before it can say no.</summary>
    internal static List<Operation<CasInput, CasOutput>> Pathological()
    {
        var history = new List<Operation<CasInput, CasOutput>>();
        for (var i = 0; i < 30; i++)
        {
            history.Add(Write(i, i, i, 100 + i));
        }

        history.Add(Read(99, 1000, 40, 200));
        return history;
    }

    [Fact]
    public void TinyBudgetOnPathologicalHistoryGivesUnknown()
    {
        var result = Linearizability.Check(Models.CasRegister, Pathological(), TimeSpan.FromMilliseconds(50));
        Assert.Equal(Verdict.Unknown, result.Verdict);
        Assert.Contains("time budget", result.Explanation);
        Assert.False(result.OutOfSteps);
    }

    [Fact]
    public void CancellationGivesUnknown()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var result = Linearizability.Check(Models.CasRegister, Pathological(), new CheckOptions { CancellationToken = cts.Token });
        Assert.Equal(Verdict.Unknown, result.Verdict);
        Assert.Contains("cancelled", result.Explanation);
    }

    [Fact]
    public void ExplanationNamesTheFailingOperationAndItsNeighbours()
    {
        Operation<CasInput, CasOutput>[] history =
        [
            Write(0, 1, 0, 1),   // #0
            Write(0, 2, 2, 3),   // #1
            Write(1, 3, 4, 20),  // #2 concurrent with the failing read
            Read(2, 1, 5, 6),    // #3 stale: 2 was written before, 3 maybe
            Read(3, 3, 30, 31),  // #4 after the failing point
        ];
        var result = Linearizability.Check(Models.CasRegister, history, Budget);
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Equal(3, result.FailingOperation);
        Assert.Equal([2, 3], result.InvolvedOperations);
        // Events in time order: c0 r0 c1 r1 c2 c3 r3 ... ; the first 7 cannot be linearized, the first 6 can.
        Assert.Equal(7, result.FailingPrefixLength);
        var text = result.Explanation!;
        Assert.Contains("#3", text);
        Assert.Contains("read -> 1", text);
        Assert.Contains("write(3)", text);
        Assert.Contains("cannot be linearized", text);
        Assert.Contains("write(2) ok", text); // completed just before
        Assert.DoesNotContain("read -> 3", text); // later operations are not involved
    }

    [Fact]
    public void ExplanationCanBeSkipped()
    {
        var result = Linearizability.Check(
            Models.CasRegister,
            [Write(0, 1, 0, 1), Read(1, 2, 2, 3)],
            new CheckOptions { Explain = false });
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Null(result.FailingOperation);
    }

    [Fact]
    public void LinearizableResultHasNoExplanation()
    {
        var result = Linearizability.Check(Models.CasRegister, [Write(0, 1, 0, 1), Read(1, 1, 2, 3)], Budget);
        Assert.True(result.IsLinearizable);
        Assert.Null(result.Explanation);
    }
}
