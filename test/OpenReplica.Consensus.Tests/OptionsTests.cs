using System.Diagnostics;
using System.Reflection;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class OptionsTests
{
    private static ReplicaOptions Valid() => new() { ReplicaId = 1, InitialConfig = new ClusterConfig([1, 2, 3]) };

    public static TheoryData<string, Action<ReplicaOptions>> Invalid => new()
    {
        { nameof(ReplicaOptions.ReplicaId), o => o.ReplicaId = 0 },
        { nameof(ReplicaOptions.Window), o => o.Window = 0 },
        { nameof(ReplicaOptions.Window), o => o.Window = 10_001 },
        { nameof(ReplicaOptions.MaxBatchCommands), o => o.MaxBatchCommands = 0 },
        { nameof(ReplicaOptions.MaxBatchBytes), o => o.MaxBatchBytes = 0 },
        { nameof(ReplicaOptions.MaxPendingProposals), o => o.MaxPendingProposals = 0 },
        { nameof(ReplicaOptions.HeartbeatTicks), o => o.HeartbeatTicks = 0 },
        { nameof(ReplicaOptions.ElectionTimeoutTicks), o => o.ElectionTimeoutTicks = 2 },
        { nameof(ReplicaOptions.RetransmitTicks), o => o.RetransmitTicks = 0 },
        { nameof(ReplicaOptions.MaxCatchUpEntries), o => o.MaxCatchUpEntries = 0 },
        { nameof(ReplicaOptions.MaxSessions), o => o.MaxSessions = 0 },
        { nameof(ReplicaOptions.PlantedBugs), o => o.PlantedBugs = PlantedBug.CommitWithoutQuorum },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validation_names_the_option_that_is_out_of_range(string option, Action<ReplicaOptions> breakIt)
    {
        var options = Valid();
        breakIt(options);
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(option, error.ParamName);
        Assert.Contains($"ReplicaOptions.{option}", error.Message);
        Assert.Throws<ArgumentException>(() => new PaxosReplica(options));
    }

    [Fact]
    public void Defaults_are_valid_and_elections_can_be_disabled()
    {
        var options = Valid();
        options.Validate();
        options.ElectionTimeoutTicks = 0;
        options.Validate();
        Assert.Equal(ReplicaOptions.DefaultWindow, Valid().Window);
        var replica = new PaxosReplica(options);
        Assert.Equal(ReplicaRole.Follower, replica.Role);
    }

    [Fact]
    public void A_replica_needs_an_initial_configuration()
    {
        var options = Valid();
        options.InitialConfig = null;
        var error = Assert.Throws<ArgumentException>(() => new PaxosReplica(options));
        Assert.Contains("InitialConfig", error.Message);
    }

    [Fact]
    public void Planted_bugs_are_allowed_only_when_explicitly_enabled()
    {
        var options = Valid();
        options.PlantedBugs = PlantedBug.AcceptLowerBallot;
        Assert.Throws<ArgumentException>(options.Validate);
        options.AllowPlantedBugs = true;
        Assert.Null(Record.Exception(options.Validate));
    }

    [Fact]
    public void Options_are_copied_so_later_changes_do_not_reach_the_replica()
    {
        var c = new Cluster(3, o => { o.Window = 1; o.MaxBatchCommands = 1; });
        c.Elect(1);
        c.BaseOptions.Window = 50;
        c.Node(1).Options.Window = 50;
        c.Propose(1, "a", "b");
        Assert.Equal(1, c[1].PendingProposals);
    }

    [Fact]
    public void Invariant_throws_with_the_failed_expression()
    {
        int slot = 3;
        var error = Assert.Throws<InvariantViolationException>(() => Invariant.Assert(slot < 2));
        Assert.Contains("slot < 2", error.Message);
        Invariant.Assert(slot == 3);
    }

    [Fact]
    public void Invariant_checks_are_compiled_into_release_builds()
    {
        // [Conditional("DEBUG")] would remove the calls from Release builds: the assertion must not be conditional.
        var assert = typeof(Invariant).GetMethod(nameof(Invariant.Assert))!;
        Assert.Empty(assert.GetCustomAttributes<ConditionalAttribute>());
        // A core API whose precondition fails throws in whatever configuration the core was built.
        var history = ConfigHistory.Start(new ClusterConfig([1]));
        Assert.Throws<InvariantViolationException>(() => history.Add(0, new ClusterConfig([2])));
        Assert.Throws<InvariantViolationException>(() => new DeterministicRandom(1).Next(5, 5));
    }

    [Fact]
    public void The_core_under_test_is_the_configuration_it_claims()
    {
        // Run with -c Release to check the Release build: the DebuggableAttribute says whether the JIT optimizes.
        var core = typeof(PaxosReplica).Assembly;
        var debuggable = core.GetCustomAttribute<DebuggableAttribute>();
        bool optimized = debuggable is null || !debuggable.IsJITOptimizerDisabled;
#if DEBUG
        Assert.False(optimized);
#else
        Assert.True(optimized);
#endif
    }
}
