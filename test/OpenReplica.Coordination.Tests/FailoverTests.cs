using Orleans.Runtime;
using Orleans.TestingHost;

namespace OpenReplica.Coordination.Tests;

/// <summary>
/// Kills the silo hosting the coordination grains while callers wait on every blocking method; each waiter is
/// answered by the new activation (waiters are in the replicated state, replayed), and timeouts and leases keep
/// expiring there (the expiry timer is re-armed on activation).
/// </summary>
[Collection(OwnClusterCollection.Name)]
public sealed class FailoverTests
{
    [Fact]
    public async Task Every_kind_of_waiter_survives_the_loss_of_the_grains_silo()
    {
        await using var cluster = await CoordinationCluster.StartAsync();
        var sessions = cluster.Sessions();
        var victim = cluster.Silos[1].SiloAddress; // session 2 lives there and dies with it
        var client = sessions[0];
        var holder = sessions[1];  // silo 0: survives
        var silent = sessions[3];  // silo 2: survives, but stops renewing its lease

        var lockKey = await KeyOnAsync(cluster, victim, "lock", k => client.GetGrain<ILockGrain>(k), g => g.IsLocked());
        var rlockKey = await KeyOnAsync(cluster, victim, "rlock", k => client.GetGrain<IReentrantLockGrain>(k), g => g.IsLocked());
        var semKey = await KeyOnAsync(cluster, victim, "sem", k => client.GetGrain<ISemaphoreGrain>(k), g => g.CurrentCount());
        var condKey = await KeyOnAsync(cluster, victim, "cond", k => client.GetGrain<IConditionGrain>(k), g => g.IsLocked());
        var barrierKey = await KeyOnAsync(cluster, victim, "barrier", k => client.GetGrain<IBarrierGrain>(k), g => g.Parties());
        var queueKey = await KeyOnAsync(cluster, victim, "queue", k => client.GetGrain<IQueueGrain>(k), g => g.Count());
        var timedKey = await KeyOnAsync(cluster, victim, "timed", k => client.GetGrain<ILockGrain>(k), g => g.IsLocked());
        var leaseKey = await KeyOnAsync(cluster, victim, "lease", k => client.GetGrain<ILockGrain>(k), g => g.IsLocked());

        // Holders, then a waiter on each object (all from the client session, which retries a lost call with its stamp).
        await holder.GetGrain<ILockGrain>(lockKey).Acquire();
        await holder.GetGrain<IReentrantLockGrain>(rlockKey).Acquire();
        await holder.GetGrain<IReentrantLockGrain>(rlockKey).Acquire();
        await holder.GetGrain<ISemaphoreGrain>(semKey).Initialize(1);
        await holder.GetGrain<ISemaphoreGrain>(semKey).Acquire();
        await client.GetGrain<IConditionGrain>(condKey).Acquire();
        await client.GetGrain<IBarrierGrain>(barrierKey).Configure(2);
        await holder.GetGrain<ILockGrain>(timedKey).Acquire();
        await silent.GetGrain<ILockGrain>(leaseKey).SetLeaseDuration(TimeSpan.FromSeconds(4));
        await silent.GetGrain<ILockGrain>(leaseKey).Acquire();

        var lockWait = client.GetGrain<ILockGrain>(lockKey).Acquire();
        var rlockWait = client.GetGrain<IReentrantLockGrain>(rlockKey).Acquire();
        var semWait = client.GetGrain<ISemaphoreGrain>(semKey).Acquire();
        var condWait = client.GetGrain<IConditionGrain>(condKey).Wait();
        var barrierWait = client.GetGrain<IBarrierGrain>(barrierKey).SignalAndWait();
        var queueWait = client.GetGrain<IQueueGrain>(queueKey).Dequeue();
        var timedWait = client.GetGrain<ILockGrain>(timedKey).TryAcquire(TimeSpan.FromSeconds(5));
        var leaseWait = client.GetGrain<ILockGrain>(leaseKey).Acquire();

        await Poll.UntilAsync(async () =>
            await client.GetGrain<ILockGrain>(lockKey).WaitingCount() == 1
            && await client.GetGrain<IReentrantLockGrain>(rlockKey).WaitingCount() == 1
            && await client.GetGrain<ISemaphoreGrain>(semKey).WaitingCount() == 1
            && await client.GetGrain<IConditionGrain>(condKey).WaitingCount() == 1
            && await client.GetGrain<IBarrierGrain>(barrierKey).ArrivedCount() == 1
            && await client.GetGrain<IQueueGrain>(queueKey).WaitingCount() == 1
            && await client.GetGrain<ILockGrain>(timedKey).WaitingCount() == 1
            && await client.GetGrain<ILockGrain>(leaseKey).WaitingCount() == 1, "every waiter recorded");
        Task[] all = [lockWait, rlockWait, semWait, condWait, barrierWait, queueWait, timedWait, leaseWait];
        Assert.All(all, w => Assert.False(w.IsCompleted));

        await cluster.KillAndWaitDeadAsync(victim);

        // Answered by the timer of the new activation: the deadline (false) and the expired lease (granted).
        Assert.False(await timedWait.Within(30));
        await leaseWait.Within(30);
        Assert.Equal(await client.GetGrain<ILockGrain>(leaseKey).GetSessionId(), await client.GetGrain<ILockGrain>(leaseKey).Owner());

        // Answered by later commands on the new activation.
        await holder.GetGrain<ILockGrain>(lockKey).Release();
        Assert.Equal(1, await holder.GetGrain<IReentrantLockGrain>(rlockKey).Release());
        Assert.Equal(0, await holder.GetGrain<IReentrantLockGrain>(rlockKey).Release());
        Assert.Equal(0, await holder.GetGrain<ISemaphoreGrain>(semKey).Release());
        await holder.GetGrain<IConditionGrain>(condKey).Acquire();
        Assert.Equal(1, await holder.GetGrain<IConditionGrain>(condKey).Notify());
        Assert.Equal(0, await holder.GetGrain<IConditionGrain>(condKey).Release());
        var last = await holder.GetGrain<IBarrierGrain>(barrierKey).SignalAndWait();
        await holder.GetGrain<IQueueGrain>(queueKey).Enqueue("after-failover");

        await Task.WhenAll(lockWait, rlockWait, semWait, condWait).Within(30);
        Assert.Equal(new BarrierArrival(0, 0), await barrierWait.Within(30));
        Assert.Equal(new BarrierArrival(0, 1), last);
        Assert.Equal("after-failover", await queueWait.Within(30));

        var me = await client.GetGrain<ILockGrain>(lockKey).GetSessionId();
        Assert.Equal(me, await client.GetGrain<ILockGrain>(lockKey).Owner());
        Assert.Equal(me, await client.GetGrain<IReentrantLockGrain>(rlockKey).Owner());
        Assert.Equal(me, await client.GetGrain<IConditionGrain>(condKey).Owner());
        Assert.Equal(0, await client.GetGrain<ISemaphoreGrain>(semKey).CurrentCount());
        Assert.NotEqual(victim, await SiloOfAsync(cluster, client.GetGrain<ILockGrain>(lockKey)));
    }

    private static Task<SiloAddress> SiloOfAsync(InProcessTestCluster cluster, ILockGrain grain) =>
        cluster.SiloOfAsync(grain, () => grain.IsLocked());

    /// <summary>A key of the given prefix whose grain is activated on <paramref name="silo"/>.</summary>
    private static async Task<string> KeyOnAsync<T, TR>(InProcessTestCluster cluster, SiloAddress silo, string prefix, Func<string, T> grain, Func<T, Task<TR>> touch)
        where T : IAddressable
    {
        for (int i = 0; i < 200; i++)
        {
            string key = $"{prefix}-{i}";
            var g = grain(key);
            if ((await cluster.SiloOfAsync(g, () => touch(g))).Equals(silo)) return key;
        }

        throw new InvalidOperationException($"no {prefix} grain landed on {silo}");
    }
}
