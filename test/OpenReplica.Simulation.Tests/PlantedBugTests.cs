using OpenReplica.Consensus;
using OpenReplica.Simulation;

namespace OpenReplica.Simulation.Tests;

/// <summary>
/// The simulator must be able to fail: each planted bug breaks one safety rule of the core, and some seed among
/// the first few hundred must expose it.
/// </summary>
public sealed class PlantedBugTests
{
    public const int SeedBudget = 300;

    [Theory]
    [InlineData(PlantedBug.CommitWithoutQuorum)]
    [InlineData(PlantedBug.AcceptLowerBallot)]
    [InlineData(PlantedBug.ForgetDedupAfterLeaderChange)]
    [InlineData(PlantedBug.SkipPersistBeforeVote)]
    [InlineData(PlantedBug.LeaseWithoutGuard)]
    public void PlantedBugIsCaught(PlantedBug bug)
    {
        const int batch = 50;
        for (ulong first = 1; first <= SeedBudget; first += batch)
        {
            var failed = SeedRunner.RunSeeds(first, batch, bug).FirstOrDefault(r => !r.Passed);
            if (failed is not null)
            {
                // The failure replays: the same seed with the same bug fails the same way.
                var again = Simulation.Run(failed.Seed, bug);
                Assert.False(again.Passed);
                Assert.Equal(failed.Failure!.Message, again.Failure!.Message);
                return;
            }
        }
        Assert.Fail($"{bug} was not caught within {SeedBudget} seeds");
    }

    [Fact]
    public void TheSameSeedsPassWithoutTheBug()
    {
        var results = SeedRunner.RunSeeds(1, 20);
        Assert.All(results, r => Assert.True(r.Passed, r.Failure?.Message));
    }
}
