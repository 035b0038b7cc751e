using OpenReplica.Orleans.Replication;
using OpenReplica.Simulation.Engine;

namespace OpenReplica.Simulation.Tests;

/// <summary>
/// The engine simulator must be able to fail: each planted engine bug (<see cref="EngineBug"/>, set only by the
/// simulator) breaks one rule of the engine, and some seed of the short sweep must expose it, the same way twice.
/// </summary>
public sealed class EnginePlantedBugTests
{
    public const int SeedBudget = 200;

    [Theory]
    [InlineData(nameof(EngineBug.VoteBeforeFsync), "durability")]
    [InlineData(nameof(EngineBug.EvictDuringPersist), "eviction")]
    [InlineData(nameof(EngineBug.ReapplyOnAttach), null)]
    [InlineData(nameof(EngineBug.PromiseWithoutFsync), "durability")]
    [InlineData(nameof(EngineBug.TwiceInOneStep), "durability|engine error")] // early votes, or commits handed out of slot order
    [InlineData(nameof(EngineBug.FirstContactFromSlotOne), "liveness")]
    [InlineData(nameof(EngineBug.ForgetBeforeRemovalDurable), "liveness")]
    public void PlantedEngineBugIsCaught(string plant, string? invariant)
    {
        var bug = Enum.Parse<EngineBug>(plant);
        const int batch = 20;
        for (ulong first = 1; first <= SeedBudget; first += batch)
        {
            var failed = EngineSeedRunner.RunSeeds(first, batch, bug, EngineSimulation.ShortSafetyPhaseTime).FirstOrDefault(r => !r.Passed);
            if (failed is null) continue;
            if (invariant is not null) Assert.Contains(failed.Failure!.Invariant, invariant.Split('|'));
            // The failure replays: the same seed with the same bug fails the same way.
            var again = EngineSimulation.Run(failed.Seed, bug, safetyPhase: EngineSimulation.ShortSafetyPhaseTime);
            Assert.False(again.Passed);
            Assert.Equal(failed.Failure!.Message, again.Failure!.Message);
            return;
        }
        Assert.Fail($"{bug} was not caught within {SeedBudget} engine seeds");
    }
}
