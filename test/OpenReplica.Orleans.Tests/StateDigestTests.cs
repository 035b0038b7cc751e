namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The digest must be equal for equal states however they were built (a live activation and a replay from a
/// snapshot build dictionaries with different histories) and differ when any replicated value differs.
/// </summary>
public sealed class StateDigestTests
{
    private sealed class Sample
    {
        public Dictionary<string, int> Counts = [];
        public HashSet<Guid> Members = [];
        public List<string> Log = [];
        public decimal Balance;
        public DateTimeOffset At;
        public Sample? Child;
        [NonSerialized] public int Cache;
    }

    [Fact]
    public void Insertion_and_removal_history_of_unordered_collections_does_not_matter()
    {
        var live = new Sample();
        foreach (var key in new[] { "a", "b", "c" }) live.Counts[key] = key.Length;
        live.Counts.Remove("b");
        live.Counts["d"] = 1; // reuses b's entry slot: enumerates a, d, c
        var replayed = new Sample { Counts = new Dictionary<string, int> { ["a"] = 1, ["c"] = 1, ["d"] = 1 } }; // a, c, d
        Assert.NotEqual(string.Join(",", live.Counts.Keys), string.Join(",", replayed.Counts.Keys));

        Assert.Equal(StateDigest.Compute(live), StateDigest.Compute(replayed));
    }

    [Fact]
    public void Any_replicated_difference_changes_the_digest()
    {
        static Sample Build() => new()
        {
            Counts = new() { ["x"] = 1 },
            Members = [Guid.Parse("7d7a3a52-cf34-4b6f-9a7c-8d1b1e0b2c11")],
            Log = ["one", "two"],
            Balance = 10.5m,
            At = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero),
            Child = new Sample { Balance = 1 },
        };
        ulong baseline = StateDigest.Compute(Build());
        Assert.Equal(baseline, StateDigest.Compute(Build()));

        var changes = new Action<Sample>[]
        {
            s => s.Counts["x"] = 2,
            s => s.Members.Add(Guid.Empty),
            s => s.Log.Reverse(),
            s => s.Balance = 10.50m + 0.01m,
            s => s.At = s.At.AddTicks(1),
            s => s.Child!.Balance = 2,
            s => s.Child = null,
        };
        foreach (var change in changes)
        {
            var changed = Build();
            change(changed);
            Assert.NotEqual(baseline, StateDigest.Compute(changed));
        }
    }

    [Fact]
    public void Non_serialized_fields_and_cycles_are_handled()
    {
        var a = new Sample { Cache = 1 };
        var b = new Sample { Cache = 2 };
        Assert.Equal(StateDigest.Compute(a), StateDigest.Compute(b));

        a.Child = a; // a cycle terminates
        Assert.NotEqual(StateDigest.Compute(b), StateDigest.Compute(a));
    }
}
