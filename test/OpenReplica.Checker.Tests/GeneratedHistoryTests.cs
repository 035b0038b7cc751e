using OpenReplica.Checker;

namespace OpenReplica.Checker.Tests;

/// <summary>
/// Histories produced by simulating concurrent clients against a real sequential register / map: every operation
/// takes effect at a point strictly inside its interval (or, for crashed clients, maybe never), so the history is
/// linearizable by construction. Corrupting one response into something impossible must be caught.
/// </summary>
public class GeneratedHistoryTests
{
    private enum Phase { Idle, Invoked, Applied }

    private sealed class Client
    {
        public Phase Phase;
        public int Id;
        public int Op = -1;
        public bool Crashes;
    }

    /// <summary>Simulates clients against a sequential model. <paramref name="apply"/> runs an input against the
    /// current state and returns the response; <paramref name="makeInput"/> draws a random input.</summary>
    internal static List<Operation<TIn, TOut>> Simulate<TIn, TOut>(
        Random rng, int clients, int count, double crashRate, Func<Random, TIn> makeInput, Func<TIn, TOut> apply)
    {
        var ops = new List<Operation<TIn, TOut>>();
        var pool = Enumerable.Range(0, clients).Select(i => new Client { Id = i }).ToList();
        var nextId = clients;
        long now = 0;
        while (ops.Count < count || pool.Any(c => c.Phase != Phase.Idle))
        {
            now++;
            var c = pool[rng.Next(pool.Count)];
            switch (c.Phase)
            {
                case Phase.Idle when ops.Count < count:
                    c.Op = ops.Count;
                    c.Crashes = rng.NextDouble() < crashRate;
                    ops.Add(new Operation<TIn, TOut>(c.Id, makeInput(rng), default, now, null));
                    c.Phase = Phase.Invoked;
                    break;
                case Phase.Invoked when c.Crashes && rng.Next(3) == 0:
                    // Crashed before the operation took effect: it never will. Jepsen renumbers crashed clients.
                    c.Phase = Phase.Idle;
                    c.Id = nextId++;
                    break;
                case Phase.Invoked:
                    var op = ops[c.Op];
                    var output = apply(op.Input); // the linearization point, strictly inside the interval
                    ops[c.Op] = op with { Output = c.Crashes ? default : output };
                    c.Phase = Phase.Applied;
                    break;
                case Phase.Applied:
                    if (!c.Crashes)
                    {
                        ops[c.Op] = ops[c.Op] with { Return = now };
                    }
                    else
                    {
                        c.Id = nextId++;
                    }

                    c.Phase = Phase.Idle;
                    break;
            }
        }

        return ops;
    }

    internal static List<Operation<CasInput, CasOutput>> RegisterHistory(int seed, int clients, int count, bool withCas, double crashRate = 0.15)
    {
        var rng = new Random(seed);
        long? state = null;
        return Simulate<CasInput, CasOutput>(
            rng,
            clients,
            count,
            crashRate,
            r => (withCas ? r.Next(3) : r.Next(2)) switch
            {
                0 => new CasInput(CasOp.Read),
                1 => new CasInput(CasOp.Write, r.Next(5)),
                _ => new CasInput(CasOp.Cas, r.Next(5), r.Next(6) is var e && e == 5 ? null : e),
            },
            input =>
            {
                switch (input.Op)
                {
                    case CasOp.Read:
                        return new CasOutput(state);
                    case CasOp.Write:
                        state = input.Value;
                        return new CasOutput(null);
                    default:
                        var ok = state == input.Expected;
                        if (ok)
                        {
                            state = input.Value;
                        }

                        return new CasOutput(null, ok);
                }
            });
    }

    internal static List<Operation<KvInput, KvOutput>> KvHistory(int seed, int clients, int count)
    {
        var rng = new Random(seed);
        var map = new Dictionary<string, string>();
        string[] keys = ["a", "b", "c"];
        return Simulate<KvInput, KvOutput>(
            rng,
            clients,
            count,
            crashRate: 0.15,
            r =>
            {
                var key = keys[r.Next(keys.Length)];
                return r.Next(3) switch
                {
                    0 => new KvInput(KvOp.Get, key),
                    1 => new KvInput(KvOp.Put, key, $"v{r.Next(4)}"),
                    _ => new KvInput(KvOp.Cas, key, $"v{r.Next(4)}", r.Next(5) is var e && e == 4 ? null : $"v{e}"),
                };
            },
            input =>
            {
                map.TryGetValue(input.Key, out var current);
                switch (input.Op)
                {
                    case KvOp.Get:
                        return new KvOutput(current);
                    case KvOp.Put:
                        map[input.Key] = input.Value!;
                        return new KvOutput(null);
                    default:
                        var ok = current == input.Expected;
                        if (ok)
                        {
                            map[input.Key] = input.Value!;
                        }

                        return new KvOutput(null, ok);
                }
            });
    }

    public static TheoryData<int> Seeds() => [.. Enumerable.Range(1, 25)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void SimulatedCasRegisterHistoryIsLinearizable_AndAnImpossibleReadIsCaught(int seed)
    {
        var history = RegisterHistory(seed, clients: 2 + seed % 5, count: 40 + 4 * seed, withCas: true);
        Assert.Contains(history, o => o.Return is null); // indeterminate operations are exercised
        Assert.Equal(Verdict.Linearizable, Linearizability.Check(Models.CasRegister, history, H.Budget).Verdict);

        var read = CompletedIndex(history, o => o.Input.Op == CasOp.Read, seed);
        var mutated = history.ToList();
        mutated[read] = mutated[read] with { Output = new CasOutput(1000 + seed) }; // never written
        var result = Linearizability.Check(Models.CasRegister, mutated, H.Budget);
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Equal(read, result.FailingOperation);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void SimulatedRegisterHistoryIsLinearizable_AndAStaleReadAfterQuiescenceIsCaught(int seed)
    {
        var history = RegisterHistory(seed, clients: 2 + seed % 4, count: 40 + 2 * seed, withCas: false);
        Assert.Equal(Verdict.Linearizable, Linearizability.Check(Models.Register, history, H.Budget).Verdict);

        // Append: after everything, a write of a fresh value, then a read that misses it.
        var end = history.Max(o => o.Return ?? o.Call) + 1;
        var mutated = history.ToList();
        mutated.Add(new Operation<CasInput, CasOutput>(500, new CasInput(CasOp.Write, 77), new CasOutput(null), end, end + 1));
        mutated.Add(new Operation<CasInput, CasOutput>(501, new CasInput(CasOp.Read), new CasOutput(null), end + 2, end + 3));
        Assert.Equal(Verdict.NotLinearizable, Linearizability.Check(Models.Register, mutated, H.Budget).Verdict);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void SimulatedKvHistoryIsLinearizable_AndAnImpossibleGetIsCaught(int seed)
    {
        var history = KvHistory(seed, clients: 3 + seed % 4, count: 60 + 4 * seed);
        Assert.Equal(Verdict.Linearizable, Linearizability.Check(Models.KeyValue, history, H.Budget).Verdict);

        var get = CompletedIndex(history, o => o.Input.Op == KvOp.Get, seed);
        var mutated = history.ToList();
        mutated[get] = mutated[get] with { Output = new KvOutput("never-written") };
        var result = Linearizability.Check(Models.KeyValue, mutated, H.Budget);
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Equal(history[get].Input.Key, result.PartitionKey);
        Assert.Equal(get, result.FailingOperation);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void FlippingACompletedCasOutcomeOfASequentialHistoryIsCaught(int seed)
    {
        // One client: no concurrency, so the outcome of every CAS is forced and flipping one must fail.
        var history = RegisterHistory(seed, clients: 1, count: 30, withCas: true, crashRate: 0);
        Assert.DoesNotContain(history, o => o.Return is null);
        Assert.Equal(Verdict.Linearizable, Linearizability.Check(Models.CasRegister, history, H.Budget).Verdict);
        var cas = CompletedIndex(history, o => o.Input.Op == CasOp.Cas, seed);
        var mutated = history.ToList();
        mutated[cas] = mutated[cas] with { Output = new CasOutput(null, !mutated[cas].Output!.Ok) };
        Assert.Equal(Verdict.NotLinearizable, Linearizability.Check(Models.CasRegister, mutated, H.Budget).Verdict);
    }

    private static int CompletedIndex<TIn, TOut>(List<Operation<TIn, TOut>> history, Func<Operation<TIn, TOut>, bool> kind, int seed)
    {
        var candidates = Enumerable.Range(0, history.Count).Where(i => history[i].Return is not null && kind(history[i])).ToList();
        Assert.NotEmpty(candidates);
        return candidates[seed % candidates.Count];
    }
}
