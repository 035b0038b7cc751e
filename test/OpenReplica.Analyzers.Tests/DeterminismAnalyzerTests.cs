namespace OpenReplica.Analyzers.Tests;

/// <summary>Every rule, positive (reported where it breaks determinism) and negative (quiet where it does not).</summary>
public sealed class DeterminismAnalyzerTests
{
    /// <summary>A grain with one replicated method (Do), one [ReadOnly] method (Get); {0} is the class body.</summary>
    private static string Grain(string body) => $$"""
        public sealed class S { public int V; public List<int> Items = new(); }
        public interface IG : IGrainWithStringKey { Task Do(); [ReadOnly] Task<int> Get(); }
        public sealed class G : ReplicatedGrain<S>, IG
        {
        {{body}}
        }
        """;

    [Fact]
    public Task Wall_clock_in_a_replicated_method_and_its_helpers_is_reported() => Verify.AnalyzerAsync(Grain("""
            public Task Do()
            {
                var a = {|ORD001:DateTime.UtcNow|};
                var b = {|ORD001:DateTimeOffset.Now|};
                var c = {|ORD001:Stopwatch.StartNew()|};
                var d = {|ORD001:Environment.TickCount64|};
                var e = {|ORD001:TimeProvider.System|};
                Helper();
                return Task.CompletedTask;
            }
            private void Helper() => State.V = {|ORD001:DateTime.Now|}.Second + (int)StaticHelper();
            private static long StaticHelper() => {|ORD001:DateTime.Today|}.Ticks;
            public Task<int> Get() => Task.FromResult(State.V);
        """));

    [Fact]
    public Task Wall_clock_outside_the_state_change_is_not_reported() => Verify.AnalyzerAsync(Grain("""
            private DateTime _activated;
            public override Task OnActivateAsync(CancellationToken token) { _activated = DateTime.UtcNow; return Task.CompletedTask; }
            public Task Do() { State.V = Replicated.Now.Second; return Task.CompletedTask; }
            public Task<int> Get() => Task.FromResult(State.V + ReadOnlyHelper());
            private int ReadOnlyHelper() => DateTime.UtcNow.Second;
            private int NeverCalled() => DateTime.UtcNow.Second;
        """));

    [Fact]
    public Task Randomness_and_fresh_identity_are_reported() => Verify.AnalyzerAsync(Grain("""
            public Task Do()
            {
                State.V = {|ORD002:Random.Shared|}.Next();
                State.V += {|ORD002:new Random()|}.Next();
                State.V += {|ORD002:new Random(42)|}.Next();
                State.V += {|ORD002:Guid.NewGuid()|}.GetHashCode();
                State.V += {|ORD002:System.Security.Cryptography.RandomNumberGenerator.GetInt32(10)|};
                return Task.CompletedTask;
            }
            public Task<int> Get() => Task.FromResult(Random.Shared.Next());
        """));

    [Fact]
    public Task Replicated_randomness_and_identity_are_not_reported() => Verify.AnalyzerAsync(Grain("""
            public Task Do()
            {
                State.V = Replicated.Random.Next() + Replicated.NewGuid().GetHashCode() + Guid.Parse("5b1e0f43-3f1e-4d4b-9c1a-0e0b8f1b2a3c").GetHashCode();
                return Task.CompletedTask;
            }
            public Task<int> Get() => Task.FromResult(State.V);
        """));

    [Fact]
    public Task Io_is_reported() => Verify.AnalyzerAsync(Grain("""
            public Task Do()
            {
                State.V = {|ORD003:System.IO.File.ReadAllText("x")|}.Length;
                {|ORD003:Console.WriteLine(State.V)|};
                State.V += {|ORD003:Environment.GetEnvironmentVariable("X")|}!.Length;
                using var http = {|ORD003:new System.Net.Http.HttpClient()|};
                return Task.CompletedTask;
            }
            public Task<int> Get() { Console.WriteLine("read"); return Task.FromResult(State.V); }
        """));

    [Fact]
    public Task Pure_framework_calls_are_not_io() => Verify.AnalyzerAsync(Grain("""
            public Task Do()
            {
                using var memory = new System.IO.MemoryStream();
                State.V = System.IO.Path.Combine("a", "b").Length + Environment.NewLine.Length + (int)memory.Length;
                State.Items.Add(Math.Max(1, 2));
                return Task.CompletedTask;
            }
            public Task<int> Get() => Task.FromResult(State.V);
        """));

    [Fact]
    public Task Timers_and_delays_are_reported() => Verify.AnalyzerAsync(Grain("""
            public async Task Do()
            {
                await {|ORD004:Task.Delay(10)|};
                {|ORD004:Thread.Sleep(1)|};
                using var timer = {|ORD004:new Timer(_ => { })|};
                {|ORD004:this.RegisterGrainTimer(() => Task.CompletedTask, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1))|};
            }
            public Task<int> Get() => Task.FromResult(State.V);
        """));

    [Fact]
    public Task Timers_outside_the_state_change_are_not_reported() => Verify.AnalyzerAsync(Grain("""
            public override Task OnActivateAsync(CancellationToken token)
            {
                this.RegisterGrainTimer(() => Task.CompletedTask, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
                return Task.CompletedTask;
            }
            public Task Do() { State.V = (int)TimeSpan.FromSeconds(2).TotalSeconds; return Task.CompletedTask; }
            public async Task<int> Get() { await Task.Delay(1); return State.V; }
        """));

    [Fact]
    public Task Calls_to_other_grains_are_reported_once_per_call() => Verify.AnalyzerAsync(Grain("""
            public async Task Do()
            {
                await {|ORD005:GrainFactory.GetGrain<IG>("other").Do()|};
                var other = {|ORD005:GrainFactory|};
                State.V = 1;
            }
            public Task<int> Get() => GrainFactory.GetGrain<IG>("other").Get();
        """));

    [Fact]
    public Task Calls_to_the_grains_own_methods_are_not_grain_calls() => Verify.AnalyzerAsync(Grain("""
            public async Task Do() { await Step(); await Step().ConfigureAwait(false); await Task.CompletedTask; await Task.Yield(); State.V = await Local(); static Task<int> Local() => Task.FromResult(1); }
            private Task Step() { State.V++; return Task.CompletedTask; }
            public Task<int> Get() => Task.FromResult(State.V);
        """));

    [Fact]
    public Task Static_writes_are_reported() => Verify.AnalyzerAsync(Grain("""
            private static int s_count;
            private static List<int> s_list = new();
            private static int Last { get; set; }
            public Task Do()
            {
                {|ORD006:s_count++|};
                {|ORD006:Last = State.V|};
                {|ORD006:s_list = new()|};
                Interlocked.Increment(ref {|ORD006:s_count|});
                return Task.CompletedTask;
            }
            public Task<int> Get() { s_count++; return Task.FromResult(State.V); }
        """));

    [Fact]
    public Task Static_reads_and_instance_writes_are_not_static_writes() => Verify.AnalyzerAsync(Grain("""
            private const int Limit = 3;
            private static readonly int s_start = 1;
            private int _calls;
            public Task Do() { _calls++; State.V = Limit + s_start + _calls; return Task.CompletedTask; }
            public Task<int> Get() => Task.FromResult(State.V);
        """));

    [Fact]
    public Task Threads_and_parallel_loops_are_reported() => Verify.AnalyzerAsync(Grain("""
            public async Task Do()
            {
                State.V = await {|ORD007:Task.Run(() => 1)|};
                {|ORD007:Parallel.For(0, 2, i => { })|};
                var thread = {|ORD007:new Thread(() => { })|};
                var first = await {|ORD007:Task.WhenAny(Step(), Step())|};
                {|ORD007:ThreadPool.QueueUserWorkItem(_ => { })|};
            }
            private Task Step() => Task.CompletedTask;
            public Task<int> Get() => Task.Run(() => State.V);
        """));

    [Fact]
    public Task Awaits_of_outside_work_are_reported() => Verify.AnalyzerAsync(Grain("""
            private readonly Task<int> _pending = Task.FromResult(1);
            private readonly TaskCompletionSource<int> _signal = new();
            public async Task Do()
            {
                State.V = {|ORD008:await _pending|};
                State.V += {|ORD008:await _signal.Task|};
            }
            public async Task<int> Get() => await _pending;
        """));

    [Fact]
    public Task Readonly_method_that_changes_state_is_reported() => Verify.AnalyzerAsync(Grain("""
            public Task Do() { State.V = 1; State.Items.Add(1); return Task.CompletedTask; }
            public Task<int> Get()
            {
                {|ORD009:State.V = 2|};
                {|ORD009:State.Items.Add(2)|};
                Touch();
                return Task.FromResult(State.V);
            }
            private void Touch() => {|ORD009:State.V++|};
        """));

    [Fact]
    public Task Readonly_method_that_only_reads_is_not_reported() => Verify.AnalyzerAsync(Grain("""
            public Task Do() { State.V++; return Task.CompletedTask; }
            public Task<int> Get() { var copy = new List<int>(State.Items); copy.Add(State.V); return Task.FromResult(Sum(copy)); }
            private static int Sum(List<int> items) { int total = 0; foreach (var i in items) total += i; return total; }
        """));

    [Fact]
    public Task Readonly_method_that_calls_a_state_changing_method_is_reported() => Verify.AnalyzerAsync(Grain("""
            public Task Do() { State.V++; return Task.CompletedTask; }
            public async Task<int> Get() { await {|ORD010:Do()|}; return State.V; }
        """));

    [Fact]
    public Task Non_private_methods_of_an_abstract_base_count_as_replicated() => Verify.AnalyzerAsync("""
        public sealed class S { public int V; }
        public abstract class Base : ReplicatedGrain<S>
        {
            protected void Stamp() => State.V = {|ORD001:DateTime.UtcNow|}.Second;
            [ReadOnly] protected int Peek() => DateTime.UtcNow.Second;
            private int Unused() => DateTime.UtcNow.Second;
            public override Task OnActivateAsync(CancellationToken token) { State.V = DateTime.UtcNow.Second; return Task.CompletedTask; }
        }
        """);

    [Fact]
    public Task Suppression_with_a_justification_silences_a_rule() => Verify.AnalyzerAsync(Grain("""
            [SuppressMessage("OpenReplica.Determinism", "ORD001", Justification = "diagnostics only, never stored in State")]
            public Task Do() { var at = DateTime.UtcNow; return Task.CompletedTask; }
            public Task<int> Get()
            {
        #pragma warning disable ORD009 // a cache of derived data, rebuilt on every activation
                State.V = 0;
        #pragma warning restore ORD009
                return Task.FromResult(State.V);
            }
        """));
}
