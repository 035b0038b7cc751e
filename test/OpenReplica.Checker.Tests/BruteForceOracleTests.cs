using OpenReplica.Checker;

namespace OpenReplica.Checker.Tests;

/// <summary>
/// Random small histories with random (often impossible) responses, checked against an independent brute-force
/// oracle that tries every order consistent with real time.
/// </summary>
public class BruteForceOracleTests
{
    private static bool BruteForce(IReadOnlyList<Operation<CasInput, CasOutput>> ops) => BruteForce(Models.CasRegister, ops);

    /// <summary>Whether some order of all operations respects real time and the model (an indeterminate operation
    /// must then be able to take effect at the end, as it can in the built-in models).</summary>
    internal static bool BruteForce<TState, TInput, TOutput>(IModel<TState, TInput, TOutput> model, IReadOnlyList<Operation<TInput, TOutput>> ops)
    {
        var used = new bool[ops.Count];

        bool Go(TState state, int placed)
        {
            if (placed == ops.Count)
            {
                return true;
            }

            for (var j = 0; j < ops.Count; j++)
            {
                if (used[j])
                {
                    continue;
                }

                // j may go next only if no unplaced operation finished strictly before j was called.
                var blocked = false;
                for (var i = 0; i < ops.Count && !blocked; i++)
                {
                    blocked = i != j && !used[i] && ops[i].Return is { } r && r < ops[j].Call;
                }

                if (blocked)
                {
                    continue;
                }

                var (ok, next) = ops[j].Return is null ? model.StepIndeterminate(state, ops[j].Input) : model.Step(state, ops[j].Input, ops[j].Output);
                if (!ok)
                {
                    continue;
                }

                used[j] = true;
                var found = Go(next, placed + 1);
                used[j] = false;
                if (found)
                {
                    return true;
                }
            }

            return false;
        }

        return Go(model.Init(), 0);
    }

    private static List<Operation<CasInput, CasOutput>> RandomHistory(Random rng)
    {
        var n = rng.Next(1, 8);
        var ops = new List<Operation<CasInput, CasOutput>>();
        for (var i = 0; i < n; i++)
        {
            long call = rng.Next(0, 12);
            long? ret = rng.Next(6) == 0 ? null : call + rng.Next(0, 6);
            long? V() => rng.Next(4) == 0 ? null : rng.Next(3);
            var input = rng.Next(3) switch
            {
                0 => new CasInput(CasOp.Read),
                1 => new CasInput(CasOp.Write, rng.Next(3)),
                _ => new CasInput(CasOp.Cas, rng.Next(3), V()),
            };
            var output = input.Op == CasOp.Read ? new CasOutput(V()) : new CasOutput(null, rng.Next(3) != 0);
            ops.Add(new Operation<CasInput, CasOutput>(i, input, ret is null ? null : output, call, ret));
        }

        return ops;
    }

    [Fact]
    public void AgreesWithBruteForceOnThousandsOfRandomHistories()
    {
        var rng = new Random(12345);
        int yes = 0, no = 0;
        for (var t = 0; t < 4000; t++)
        {
            var history = RandomHistory(rng);
            var expected = BruteForce(history);
            var result = Linearizability.Check(Models.CasRegister, history, H.Budget);
            Assert.True(
                (expected ? Verdict.Linearizable : Verdict.NotLinearizable) == result.Verdict,
                $"case {t}: brute force says {expected}, checker says {result.Verdict}\n" + string.Join("\n", history.Select(HistoryWriter.Format)));
            if (expected)
            {
                yes++;
            }
            else
            {
                no++;
                Assert.NotNull(result.FailingOperation);
            }
        }

        // Both outcomes are well represented, so the comparison means something.
        Assert.True(yes > 500 && no > 500, $"linearizable {yes}, not {no}");
    }
}
