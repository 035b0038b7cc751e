using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>When a silo starts a replica of a group a peer's message names (<see cref="ForgottenGroups"/>), case by case.</summary>
public class ForgottenGroupsTests
{
    private const string Group = "3|account/a";
    private const long Me = 3;

    private static GroupStatus View(long fromSlot, params long[] latest) => new(latest, latest, Leader: true, HasActivation: false, CommitIndex: fromSlot, fromSlot);

    [Fact]
    public void A_group_never_held_is_learned_from_any_view_that_names_this_silo()
    {
        var forgotten = new ForgottenGroups();
        Assert.Equal(new ClusterConfig([1, 2, 3]), forgotten.ConfigToLearn(Group, View(1, 1, 2, 3), Me)?.Latest);
        Assert.Null(forgotten.ConfigToLearn(Group, View(500, 1, 2, 4), Me));
    }

    [Fact]
    public void A_forgotten_group_is_learned_again_only_from_a_newer_view()
    {
        var forgotten = new ForgottenGroups();
        forgotten.Forgot(Group, 200);
        forgotten.Forgot(Group, 120); // a later note that knew less lowers nothing
        Assert.Null(forgotten.ConfigToLearn(Group, View(36, 1, 2, 3), Me));  // a lagging peer: the group left this view
        Assert.Null(forgotten.ConfigToLearn(Group, View(200, 1, 2, 3), Me)); // no newer than what this silo knew
        Assert.Equal(new ClusterConfig([1, 3, 4]), forgotten.ConfigToLearn(Group, View(232, 1, 3, 4), Me)?.Latest); // added back
        Assert.Equal(new ClusterConfig([1, 2, 3]), forgotten.ConfigToLearn("3|account/b", View(36, 1, 2, 3), Me)?.Latest); // per group
    }

    [Fact]
    public void Holding_the_group_again_ends_the_note()
    {
        var forgotten = new ForgottenGroups();
        forgotten.Forgot(Group, 200);
        Assert.Equal(1, forgotten.Count);
        forgotten.Held(Group);
        Assert.Equal(0, forgotten.Count);
        Assert.NotNull(forgotten.ConfigToLearn(Group, View(36, 1, 2, 3), Me));
    }

    [Fact]
    public void A_replica_starts_from_the_senders_whole_history_or_without_one_from_its_newest_configuration_only()
    {
        var forgotten = new ForgottenGroups();
        var withHistory = View(232, 1, 3, 4) with { Epochs = [new(1, [1, 2, 5]), new(40, [1, 2, 3]), new(232, [1, 3, 4])] };
        var history = forgotten.ConfigToLearn(Group, withHistory, Me)!;
        Assert.Equal(1, history.KnownFrom);
        Assert.Equal(new ClusterConfig([1, 2, 3]), history.At(100));
        Assert.Equal(new ClusterConfig([1, 3, 4]), history.Latest);

        // A peer that sends no history (an older version): the newest configuration, known from the slot it is in
        // force from; the replica learns the older ones from the log and leads only once it knows them.
        var newestOnly = forgotten.ConfigToLearn(Group, View(232, 1, 3, 4), Me)!;
        Assert.Equal(232, newestOnly.KnownFrom);
        Assert.Equal(new ClusterConfig([1, 3, 4]), newestOnly.Latest);
    }

    // ---- a Persisted silo keeps its notes on disk (ForgottenGroupsJournal) ----

    /// <summary>Runs <paramref name="test"/> with a new, empty data directory, removed afterwards.</summary>
    private static void WithDataDirectory(Action<string> test)
    {
        string dir = Path.Combine(Path.GetTempPath(), "or-forgotten-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            test(dir);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_notes_of_a_persisted_silo_outlive_its_restart() => WithDataDirectory(dir =>
    {
        var before = ForgottenGroups.InDirectory(dir);
        before.Forgot(Group, 200);
        before.Forgot("3|account/b", 50);
        before.Held("3|account/b"); // held again: no note
        before.Close();

        var after = ForgottenGroups.InDirectory(dir); // the restart
        Assert.Equal(1, after.Count);
        Assert.Null(after.ConfigToLearn(Group, View(36, 1, 2, 3), Me)); // a lagging peer is still refused
        Assert.Null(after.ConfigToLearn(Group, View(200, 1, 2, 3), Me));
        Assert.NotNull(after.ConfigToLearn(Group, View(232, 1, 3, 4), Me));
        Assert.NotNull(after.ConfigToLearn("3|account/b", View(36, 1, 2, 3), Me));
        Assert.Equal(200, after.NoteOf(Group)?.LatestFromSlot); // what a birth on this silo checks (BirthDecision rule 0)
        after.Close();
    });

    [Fact]
    public void A_note_keeps_what_the_dropped_replica_promised_and_held_across_a_restart_and_a_compaction() => WithDataDirectory(dir =>
    {
        var before = ForgottenGroups.InDirectory(dir);
        before.Forgot(Group, 200, new FormerReplica(new Ballot(7, 2), 180));
        before.Forgot(Group, 150, new FormerReplica(new Ballot(8, 1), 120)); // each part rises on its own
        before.Forgot("3|account/b", 50); // nothing left: the record of before session 34
        before.Close();
        long beforeCompaction = new FileInfo(Path.Combine(dir, ForgottenGroupsJournal.FileName)).Length;

        var after = ForgottenGroups.InDirectory(dir);
        Assert.Equal(new FormerReplica(new Ballot(8, 1), 180), after.NoteOf(Group)?.Former);
        Assert.Equal(200, after.NoteOf(Group)?.LatestFromSlot);
        Assert.Equal(FormerReplica.None, after.NoteOf("3|account/b")?.Former);
        Assert.Null(after.NoteOf("3|account/never"));
        after.Close();
        // Opening compacted the journal (the second note of the group was dead); the compacted notes read the same.
        Assert.True(new FileInfo(Path.Combine(dir, ForgottenGroupsJournal.FileName)).Length < beforeCompaction);
        var again = ForgottenGroups.InDirectory(dir);
        Assert.Equal(new FormerReplica(new Ballot(8, 1), 180), again.NoteOf(Group)?.Former);
        again.Held(Group);
        Assert.Null(again.NoteOf(Group));
        again.Close();
    });

    [Fact]
    public void A_record_torn_by_a_crash_is_dropped_and_the_notes_before_it_are_kept() => WithDataDirectory(dir =>
    {
        var before = ForgottenGroups.InDirectory(dir);
        before.Forgot(Group, 200);
        before.Forgot("3|account/b", 50);
        before.Close();
        string path = Path.Combine(dir, ForgottenGroupsJournal.FileName);
        using (var file = new FileStream(path, FileMode.Open)) file.SetLength(file.Length - 3); // the last append, cut short

        var after = ForgottenGroups.InDirectory(dir);
        Assert.Equal(1, after.Count);
        Assert.Null(after.ConfigToLearn(Group, View(200, 1, 2, 3), Me));
        after.Forgot("3|account/c", 70); // appends go on after the last whole record
        after.Close();
        var again = ForgottenGroups.InDirectory(dir);
        Assert.Equal(2, again.Count);
        Assert.Null(again.ConfigToLearn("3|account/c", View(70, 1, 2, 3), Me));
        again.Close();
    });

    [Fact]
    public void The_journal_is_compacted_to_its_live_notes() => WithDataDirectory(dir =>
    {
        var forgotten = ForgottenGroups.InDirectory(dir);
        forgotten.Forgot(Group, 200);
        for (int i = 0; i < 5_000; i++)
        {
            forgotten.Forgot("3|account/moving", i + 1);
            forgotten.Held("3|account/moving");
        }
        var file = new FileInfo(Path.Combine(dir, ForgottenGroupsJournal.FileName));
        Assert.True(file.Length < 80 * 1024, $"{file.Length} bytes for one live note");
        forgotten.Close();
        var after = ForgottenGroups.InDirectory(dir);
        Assert.Equal(1, after.Count);
        Assert.Null(after.ConfigToLearn(Group, View(200, 1, 2, 3), Me));
        after.Close();
    });

    [Fact]
    public void Notes_forgotten_and_held_from_many_threads_while_the_journal_compacts_are_all_on_disk() => WithDataDirectory(dir =>
    {
        // Each thread forgets its own groups and holds every other one again: enough dead records to compact many times.
        var forgotten = ForgottenGroups.InDirectory(dir);
        Parallel.For(0, 8, t =>
        {
            for (int i = 0; i < 600; i++)
            {
                string group = $"3|account/t{t}-{i}";
                forgotten.Forgot(group, i + 1);
                if (i % 2 == 0) forgotten.Held(group);
            }
        });
        Assert.Equal(8 * 300, forgotten.Count);
        forgotten.Close();

        var after = ForgottenGroups.InDirectory(dir);
        Assert.Equal(8 * 300, after.Count);
        for (int t = 0; t < 8; t++)
        {
            Assert.Equal(600, after.NoteOf($"3|account/t{t}-599")?.LatestFromSlot);
            Assert.Null(after.NoteOf($"3|account/t{t}-598"));
        }
        after.Close();
    });

    [Fact]
    public void A_file_that_is_not_a_journal_is_refused_by_name() => WithDataDirectory(dir =>
    {
        File.WriteAllText(Path.Combine(dir, ForgottenGroupsJournal.FileName), "something else");
        var e = Assert.Throws<InvalidDataException>(() => ForgottenGroups.InDirectory(dir));
        Assert.Contains(ForgottenGroupsJournal.FileName, e.Message);
    });
}
