using Microsoft.Extensions.DependencyInjection;
using OpenReplica.Checker;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>Records a compare-and-set register's history as its callers see it (failures are indeterminate).</summary>
internal sealed class RegisterHistory
{
    private readonly List<Operation<CasInput, CasOutput>> _ops = [];
    /// <summary>Values of the history's writes start here (smaller values are the test's own setup writes).</summary>
    public const long FirstValue = 1_000;

    private long _nextValue = FirstValue;

    public int Succeeded { get; private set; }

    public int Indeterminate { get; private set; }

    public List<Exception> Failures { get; } = [];

    public IReadOnlyList<Operation<CasInput, CasOutput>> Operations
    {
        get
        {
            lock (_ops) return [.. _ops];
        }
    }

    /// <summary>Values written by calls that returned (write ok, or cas ok).</summary>
    public HashSet<long> AcknowledgedWrites { get; } = [];

    /// <summary>Adds an operation the test made itself (setup), so the checker starts from the right state.</summary>
    public void Record(CasInput input, CasOutput output, long call, long returned)
    {
        lock (_ops) _ops.Add(new Operation<CasInput, CasOutput>(-1, input, output, call, returned));
    }

    /// <summary>One random operation: read 40%, write 30%, cas 30%; every written value is unique.</summary>
    public async Task RunOneAsync(int process, ICasRegisterGrain register, Random random, long? lastSeen)
    {
        int roll = random.Next(10);
        long value = Interlocked.Increment(ref _nextValue);
        var input = roll < 4 ? new CasInput(CasOp.Read) : roll < 7 ? new CasInput(CasOp.Write, value) : new CasInput(CasOp.Cas, value, lastSeen);
        long call = FaultTestSupport.Now();
        CasOutput? output = null;
        long? returned = null;
        try
        {
            switch (input.Op)
            {
                case CasOp.Read:
                    output = new CasOutput(await register.Read());
                    break;
                case CasOp.Write:
                    await register.Write(value);
                    output = new CasOutput(null);
                    break;
                default:
                    output = new CasOutput(null, await register.Cas(lastSeen, value));
                    break;
            }

            returned = FaultTestSupport.Now();
        }
        catch (Exception e)
        {
            // With retries off, the stamping filter gives up at once and says why in CallOutcomeUnknownException.
            lock (_ops) Failures.Add(e is CallOutcomeUnknownException unknown ? unknown.LastFailure : e);
            output = null;
        }

        lock (_ops)
        {
            _ops.Add(new Operation<CasInput, CasOutput>(process, input, output, call, returned));
            if (returned is null) Indeterminate++;
            else Succeeded++;
            if (returned is not null && (input.Op == CasOp.Write || (input.Op == CasOp.Cas && output!.Ok))) AcknowledgedWrites.Add(value);
        }
    }

    /// <summary>Runs <paramref name="callers"/> processes against the registers (process i uses registers[i % n]) until stopped.</summary>
    public List<Task> Start(int callers, IReadOnlyList<ICasRegisterGrain> registers, CancellationToken stop, int maxOpsPerCaller = int.MaxValue) =>
        Enumerable.Range(0, callers).Select(p => Task.Run(async () =>
        {
            var random = new Random(p + 1);
            long? lastSeen = null;
            for (int i = 0; i < maxOpsPerCaller && !stop.IsCancellationRequested; i++)
            {
                var register = registers[p % registers.Count];
                await RunOneAsync(p, register, random, lastSeen);
                lock (_ops)
                {
                    var last = _ops.LastOrDefault(o => o.Process == p && o.Return is not null && o.Input.Op == CasOp.Read);
                    if (last is not null) lastSeen = last.Output!.Value;
                }
            }
        })).ToList();

    /// <summary>Waits (bounded) until <paramref name="more"/> further operations completed: the cluster serves again.</summary>
    public async Task ProgressAsync(string phase, int more = 40)
    {
        int before = Succeeded;
        await FaultTestSupport.UntilAsync(() => Succeeded >= before + more, () => $"{more} more completed operations {phase}", TimeSpan.FromSeconds(30));
    }

    public void AssertLinearizable()
    {
        var result = Linearizability.Check(Models.CasRegister, Operations, TimeSpan.FromSeconds(30));
        Assert.True(result.Verdict == Verdict.Linearizable, $"history of {Operations.Count} ops: {result.Verdict}: {result.Explanation}");
    }

    /// <summary>
    /// What every fault test of a register checks at the end: the history is linearizable, the register applied every
    /// acknowledged write exactly once, and the replicas' logs agree on every chosen slot.
    /// </summary>
    public async Task AssertOutcomeAsync(FaultCluster cluster, ICasRegisterGrain register, int replicas = 3)
    {
        AssertLinearizable();
        AssertWrittenOnce(await Eventually.CallAsync(() => register.Written(), "written values"));
        await cluster.AssertLogsAgreeAsync(FaultCluster.GroupOf(register.GetGrainId(), replicas));
    }

    /// <summary>The register's own list of applied writes: no value twice, every acknowledged write once.</summary>
    public void AssertWrittenOnce(IReadOnlyList<long> written)
    {
        var twice = written.Where(v => v >= FirstValue).GroupBy(v => v).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count == 0, $"values written twice: {string.Join(", ", twice)}");
        var missing = AcknowledgedWrites.Where(v => !written.Contains(v)).ToList();
        Assert.True(missing.Count == 0, $"acknowledged writes missing: {string.Join(", ", missing)}");
    }
}

[Collection(FaultCollection.Name)]
public sealed class RegisterLinearizabilityTests
{
    /// <summary>5 silos, 5 replicas: the leader's silo and then another die (3 of 5 remain), one comes back.</summary>
    [Fact]
    public async Task Cas_register_stays_linearizable_through_two_kills_and_a_restart_with_five_replicas()
    {
        await using var cluster = await FaultCluster.StartAsync(silos: 5, replicationFactor: 5, callTimeout: TimeSpan.FromSeconds(3));
        var (register, leader) = await cluster.GrainOffFirstSiloAsync(
            "reg5", k => cluster.Client.GetGrain<ICasRegisterGrain>(GrainId.Create(CasRegisterGrain.TypeName, k)), g => g.GetSilo());

        var history = new RegisterHistory();
        using var stop = new CancellationTokenSource();
        var callers = history.Start(8, [register], stop.Token);
        await history.ProgressAsync("before faults");
        var leaderHandle = cluster.HandleOf(leader);
        await cluster.KillAsync(leaderHandle);
        await history.ProgressAsync("after killing the leader's silo");

        var current = await Eventually.CallAsync(() => register.GetSilo(), "register's silo");
        var second = cluster.Silos.First(s => s != cluster.Cluster.Silos[0] && !s.SiloAddress.Equals(current));
        await cluster.KillAsync(second);
        await history.ProgressAsync("after killing a second silo (3 of 5 left)");

        await cluster.RestartAsync(leaderHandle);
        await history.ProgressAsync("after restarting the first");

        stop.Cancel();
        await Task.WhenAll(callers);

        await history.AssertOutcomeAsync(cluster, register, replicas: 5);
    }

    /// <summary>
    /// Two activations lead the same group at once: the register's own, and a shadow activation on another silo wired
    /// to the same group (what a duplicate Orleans activation does). Each campaign's higher ballot fences the other:
    /// the fenced side's pending calls fail or are applied once, and the combined history stays linearizable.
    /// With leader leases, the fenced side may keep answering reads locally only until the lease the newer
    /// campaign waits out has ended.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(500)]
    public async Task Two_activations_leading_at_once_are_decided_by_ballots(int leaseMilliseconds)
    {
        await using var cluster = await FaultCluster.StartAsync(
            silos: 3,
            callTimeout: TimeSpan.FromSeconds(3),
            clientRetries: 0, // let the fenced side's failures reach the callers
            configureSilo: silo =>
            {
                silo.Services.AddSingleton<ICallReplicator>(sp => new ShadowingReplicator(sp.GetRequiredService<ConsensusCallReplicator>()));
                silo.Services.Configure<ReplicatedGrainsOptions>(o => o.LeaseDuration = TimeSpan.FromMilliseconds(leaseMilliseconds));
            });

        // A key whose register and shadow activations land on different silos.
        ICasRegisterGrain register = null!, shadow = null!;
        SiloAddress registerSilo = null!, shadowSilo = null!;
        for (int i = 0; ; i++)
        {
            Assert.True(i < 50, "no key placed the register and its shadow on different silos");
            register = cluster.Client.GetGrain<ICasRegisterGrain>(GrainId.Create(CasRegisterGrain.TypeName, $"dup-{i}"));
            shadow = cluster.Client.GetGrain<ICasRegisterGrain>(GrainId.Create(ShadowRegisterGrain.TypeName, $"dup-{i}"));
            // Placement puts each on a replica silo (the one its call reached first), so ask where they went.
            registerSilo = await Eventually.CallAsync(() => register.GetSilo(), "register's silo");
            shadowSilo = await Eventually.CallAsync(() => shadow.GetSilo(), "shadow's silo");
            if (!registerSilo.Equals(shadowSilo)) break;
        }

        string registerKey = register.GetGrainId().ToString(), shadowKey = shadow.GetGrainId().ToString();

        var history = new RegisterHistory();

        // Sequentially first: each side's activation takes over from the other and sees the other's writes.
        long call = FaultTestSupport.Now();
        await Eventually.CallAsync(() => register.Write(1), "register writes 1");
        history.Record(new CasInput(CasOp.Write, 1), new CasOutput(null), call, FaultTestSupport.Now());
        Assert.Equal(registerSilo, await register.GetSilo());
        call = FaultTestSupport.Now();
        await Eventually.CallAsync(() => shadow.Write(2), "shadow writes 2");
        history.Record(new CasInput(CasOp.Write, 2), new CasOutput(null), call, FaultTestSupport.Now());
        Assert.Equal(shadowSilo, await shadow.GetSilo());
        // The shadow's campaign fenced the register's activation, which deactivated itself.
        await Poll.UntilAsync(() => RegisterGrainBase.Deactivations.GetValueOrDefault(registerKey) >= 1, "the fenced register activation deactivated");
        call = FaultTestSupport.Now();
        Assert.Equal(2, await Eventually.CallAsync(() => register.Read(), "register reads"));
        history.Record(new CasInput(CasOp.Read), new CasOutput(2), call, FaultTestSupport.Now());
        Assert.True(RegisterGrainBase.Activations[registerKey] >= 2, "the register was activated again after being fenced");
        await Poll.UntilAsync(() => RegisterGrainBase.Deactivations.GetValueOrDefault(shadowKey) >= 1, "the fenced shadow activation deactivated");

        // Then both sides at once, three callers each.
        await Task.WhenAll(history.Start(6, [register, shadow], CancellationToken.None, maxOpsPerCaller: 25));

        Assert.True(history.Succeeded > 0, "no operation succeeded");
        var fenced = history.Failures.OfType<ReplicaUnavailableException>().ToList();
        Assert.True(fenced.Count > 0 || RegisterGrainBase.Deactivations[registerKey] + RegisterGrainBase.Deactivations[shadowKey] > 2,
            "neither side was ever fenced while both were called");
        Assert.All(history.Failures, e => Assert.True(
            e is ReplicaUnavailableException or TimeoutException or OrleansException or SiloUnavailableException,
            $"unexpected failure {e.GetType().Name}: {e.Message}"));

        history.AssertLinearizable();
        var written = await Eventually.CallAsync(() => register.Written(), "written values");
        history.AssertWrittenOnce(written);
        Assert.Equal(written, await Eventually.CallAsync(() => shadow.Written(), "shadow's written values"));
        await cluster.AssertLogsAgreeAsync(FaultCluster.GroupOf(register.GetGrainId()));
    }
}
