namespace OpenReplica.Analyzers.Tests;

/// <summary>Every code fix: each wall-clock and randomness API with a deterministic counterpart, and where none is offered.</summary>
public sealed class ReplicatedReplacementCodeFixTests
{
    private static string Grain(string statement) => $$"""
        public sealed class S { public object? V; }
        public interface IG : IGrainWithStringKey { Task Do(); }
        public sealed class G : ReplicatedGrain<S>, IG
        {
            public Task Do()
            {
                {{statement}}
                return Task.CompletedTask;
            }
        }
        """;

    [Theory]
    [InlineData("ORD001", "DateTime.UtcNow", "Replicated.Now.UtcDateTime")]
    [InlineData("ORD001", "DateTime.Now", "Replicated.Now.UtcDateTime")]
    [InlineData("ORD001", "DateTime.Today", "Replicated.Now.UtcDateTime.Date")]
    [InlineData("ORD001", "DateTimeOffset.UtcNow", "Replicated.Now")]
    [InlineData("ORD001", "DateTimeOffset.Now", "Replicated.Now")]
    [InlineData("ORD002", "Random.Shared", "Replicated.Random")]
    [InlineData("ORD002", "new Random()", "Replicated.Random")]
    [InlineData("ORD002", "Guid.NewGuid()", "Replicated.NewGuid()")]
    public Task Replaces_with_the_replicated_counterpart(string id, string api, string replacement) =>
        Verify.CodeFixAsync(Grain($"State.V = {{|{id}:{api}|}};"), Grain($"State.V = {replacement};"));

    [Fact]
    public Task Replaces_inside_a_larger_expression() =>
        Verify.CodeFixAsync(
            Grain("State.V = {|ORD001:DateTime.UtcNow|}.AddMinutes(5).ToString(\"O\");"),
            Grain("State.V = Replicated.Now.UtcDateTime.AddMinutes(5).ToString(\"O\");"));

    [Fact]
    public Task Offers_no_fix_where_replicated_is_out_of_reach_or_nothing_replaces_it()
    {
        // A static helper cannot reach the grain's Replicated; a seeded Random and the tick count have no counterpart.
        const string source = """
            public sealed class S { public long V; }
            public interface IG : IGrainWithStringKey { Task Do(); }
            public sealed class G : ReplicatedGrain<S>, IG
            {
                public Task Do()
                {
                    State.V = Stamp() + {|ORD002:new Random(7)|}.Next() + {|ORD001:Environment.TickCount|};
                    return Task.CompletedTask;
                }
                private static long Stamp() => {|ORD001:DateTime.UtcNow|}.Ticks;
            }
            """;
        return Verify.CodeFixAsync(source, source);
    }
}
