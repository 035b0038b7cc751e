using System.Collections.Concurrent;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The rebalancer's guard against waiting forever for a driver that does not drive. A member that leaves a misplaced
/// group's move to another (a peer leads it, another member is the designated driver, or its own activation has not
/// taken the lead yet) notes what its replica knew then: commit index, newest configuration and the slot from which
/// that configuration is in force. A driver that works changes these on every member: each configuration change of a
/// move is chosen and committed through the members, and so is every call the group serves. When they have not changed
/// for <see cref="QuietPasses"/> passes and <see cref="QuietTime"/> times the member's rank, the group makes no progress
/// and this member drives the move itself.
/// </summary>
/// <remarks>
/// Why: in session 9's full-size roll a group could not elect a leader. The grain's activation sat on a re-added member
/// whose catching-up replica campaigned with a configuration the group had left, and the newest configuration's members
/// deferred to that activation for 500+ passes. Entries live only while a group is deferred on this silo (removed when a
/// pass finds it in place, moved or dropped, and pruned to held groups): the cost is per misplaced group here, not per
/// group held. The rank (the member's place among those that might take over) staggers the members, so two of them do
/// not campaign against each other; after a take-over the member's wait starts again, so it campaigns at most once per
/// quiet period.
/// </remarks>
internal sealed class DeferralWatch(int quietPasses, TimeSpan quietTime)
{
    /// <summary>Passes a deferred group's view must stay unchanged before this member drives it.</summary>
    public int QuietPasses { get; } = quietPasses;

    /// <summary>Time a deferred group's view must stay unchanged (times the member's rank) before this member drives it.</summary>
    public TimeSpan QuietTime { get; } = quietTime;

    private readonly ConcurrentDictionary<string, Entry> _entries = new();

    /// <summary>Groups deferred on this silo and watched now.</summary>
    public int Count => _entries.Count;

    /// <summary>
    /// This member defers group <paramref name="groupId"/> again, its replica knowing <paramref name="mine"/>, at
    /// <paramref name="now"/> (monotonic); whether the group made no progress for long enough that this member, the
    /// <paramref name="rank"/>-th to take over (1 first), should drive it itself. Call once per pass per deferred group.
    /// </summary>
    public bool NoProgress(string groupId, GroupStatus mine, int rank, TimeSpan now, out Stall stall)
    {
        var view = new View(mine.CommitIndex, mine.LatestFromSlot, string.Join(",", mine.Latest));
        var entry = _entries.AddOrUpdate(groupId, _ => new Entry(view, now, 1), (_, e) => e.View == view ? e with { Passes = e.Passes + 1 } : new Entry(view, now, 1));
        stall = new Stall(entry.Passes, now - entry.Since, mine.CommitIndex, mine.Latest);
        return entry.Passes >= QuietPasses && now - entry.Since >= QuietTime * Math.Max(1, rank);
    }

    /// <summary>This member drove the group (or tried): its wait starts again.</summary>
    public void TookOver(string groupId) => _entries.TryRemove(groupId, out _);

    /// <summary>The group is in place, moved or dropped here: nothing to watch.</summary>
    public void Settled(string groupId) => _entries.TryRemove(groupId, out _);

    /// <summary>Forgets the groups this silo no longer holds.</summary>
    public void Retain(IReadOnlyCollection<string> held)
    {
        var keep = held as ISet<string> ?? held.ToHashSet();
        foreach (string groupId in _entries.Keys)
        {
            if (!keep.Contains(groupId)) _entries.TryRemove(groupId, out _);
        }
    }

    /// <summary>How long a deferred group has shown no progress (for the log).</summary>
    internal sealed record Stall(int Passes, TimeSpan Quiet, long CommitIndex, long[] Latest)
    {
        public override string ToString() =>
            $"{Passes} passes, {Quiet.TotalSeconds:0.0} s at commit {CommitIndex} with {{{string.Join(",", Latest)}}}";
    }

    private sealed record View(long CommitIndex, long LatestFromSlot, string Latest);

    private sealed record Entry(View View, TimeSpan Since, int Passes);
}
