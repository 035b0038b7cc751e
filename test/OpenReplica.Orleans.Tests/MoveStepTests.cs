using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>The next step of a group's move (<see cref="MoveStep.For"/>), which the rebalancer and the engine simulator share.</summary>
public sealed class MoveStepTests
{
    private static ClusterConfig C(params long[] members) => new(members);

    [Fact]
    public void A_group_on_its_target_with_the_target_in_force_is_in_place()
    {
        Assert.Equal(MoveStepKind.InPlace, MoveStep.For(C(1, 2, 3), C(1, 2, 3), C(1, 2, 3)).Kind);
    }

    [Fact]
    public void A_move_adds_the_new_member_first_then_removes_the_old_one_keeping_the_others()
    {
        var add = MoveStep.For(C(1, 2, 3), C(1, 2, 3), C(2, 3, 4));
        Assert.Equal(MoveStepKind.Add, add.Kind);
        Assert.Equal(4, add.Member);
        Assert.Equal(C(1, 2, 3, 4), add.Next);

        // The add is chosen, not in force yet: the removal may start (its catch-up wait covers the window).
        var remove = MoveStep.For(C(1, 2, 3, 4), C(1, 2, 3), C(2, 3, 4));
        Assert.Equal(MoveStepKind.Remove, remove.Kind);
        Assert.Equal(1, remove.Member);
        Assert.Equal(C(2, 3, 4), remove.Next);
        Assert.Equal([2L, 3L, 4L], remove.Staying);
    }

    [Fact]
    public void The_last_change_chosen_and_not_in_force_is_waited_for()
    {
        Assert.Equal(MoveStepKind.AwaitInForce, MoveStep.For(C(2, 3, 4), C(1, 2, 3, 4), C(2, 3, 4)).Kind);
    }

    [Fact]
    public void A_group_that_moves_two_members_adds_and_removes_one_at_a_time()
    {
        var latest = C(1, 2, 3);
        var inForce = latest;
        var target = C(3, 4, 5);
        var seen = new List<ClusterConfig>();
        for (int i = 0; i < 8; i++)
        {
            var step = MoveStep.For(latest, inForce, target);
            if (step.Kind == MoveStepKind.InPlace) break;
            if (step.Kind == MoveStepKind.AwaitInForce)
            {
                inForce = latest;
                continue;
            }
            Assert.True(step.Next!.Members.Count >= 3, $"{step.Next} has fewer members than the group had");
            Assert.Equal(1, Math.Abs(step.Next.Members.Count - latest.Members.Count));
            latest = step.Next;
            seen.Add(latest);
        }
        Assert.Equal([C(1, 2, 3, 4), C(2, 3, 4), C(2, 3, 4, 5), C(3, 4, 5)], seen);
        Assert.Equal(target, latest);
    }

    [Fact]
    public void A_group_larger_than_its_target_removes_before_it_adds()
    {
        // A group left with four members (a move stopped between its add and its removal) whose target changed.
        var step = MoveStep.For(C(1, 2, 3, 4), C(1, 2, 3, 4), C(2, 3, 5));
        Assert.Equal(MoveStepKind.Remove, step.Kind);
        Assert.Equal(1, step.Member);
        Assert.Equal([2L, 3L], step.Staying);
    }

    [Fact]
    public void A_gone_member_is_removed_before_its_replacement_is_added()
    {
        // Member 1 is dead (its silo stopped and left the roster): adding 4 first would make the group need 3 of
        // {1,2,3,4} — 2, 3 and the new 4 before it caught up — and one more departure would stop it for good.
        Func<long, bool> gone = m => m == 1;
        var remove = MoveStep.For(C(1, 2, 3), C(1, 2, 3), C(2, 3, 4), gone);
        Assert.Equal(MoveStepKind.Remove, remove.Kind);
        Assert.Equal(1, remove.Member);
        Assert.Equal(C(2, 3), remove.Next);
        Assert.Equal([2L, 3L], remove.Staying);

        var add = MoveStep.For(C(2, 3), C(2, 3), C(2, 3, 4), gone);
        Assert.Equal(MoveStepKind.Add, add.Kind);
        Assert.Equal(C(2, 3, 4), add.Next);

        // A member that is alive (a silo handing its groups over before it stops) is still replaced add-first.
        Assert.Equal(MoveStepKind.Add, MoveStep.For(C(1, 2, 3), C(1, 2, 3), C(2, 3, 4), _ => false).Kind);
        // A change not yet in force is waited for first, as without gone members.
        Assert.Equal(MoveStepKind.AwaitInForce, MoveStep.For(C(2, 3), C(1, 2, 3), C(2, 3, 4), gone).Kind);
    }

    [Fact]
    public void A_group_stuck_with_a_gone_member_and_a_half_added_one_removes_the_gone_one_first()
    {
        // {1,2,3,4}: 4 was added for 1's replacement, then 1 stopped. Removing 1 needs 3 of 4 (2, 3 and 4); it comes
        // before anything else the target wants.
        var step = MoveStep.For(C(1, 2, 3, 4), C(1, 2, 3, 4), C(2, 3, 5), m => m == 1);
        Assert.Equal(MoveStepKind.Remove, step.Kind);
        Assert.Equal(1, step.Member);
        Assert.Equal(C(2, 3, 4), step.Next);
    }
}
