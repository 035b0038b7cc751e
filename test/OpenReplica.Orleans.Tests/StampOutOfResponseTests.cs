using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The call's stamp stays visible to the grain and leaves the context Orleans builds the response from. The flow is
/// Orleans' own: the invoker imports the message's context in its async method, and the grain's filter runs in a
/// nested async method (<c>InsideRuntimeClient.Invoke</c> → <c>GrainMethodInvoker.Invoke</c> → the grain's filter).
/// </summary>
public class StampOutOfResponseTests
{
    [Fact]
    public async Task The_grain_sees_the_stamp_and_the_context_left_for_the_response_has_none()
    {
        var stamp = new CallStamp(Guid.NewGuid(), 7, 3);
        var (seenByGrain, left) = await InvokeAsync(new() { [CallStamp.RequestContextKey] = stamp, ["trace"] = "abc" });
        Assert.Equal(stamp, seenByGrain);
        Assert.Equal(["trace"], left.Keys);
        Assert.Equal("abc", left["trace"]);
    }

    [Fact]
    public async Task A_context_that_held_only_the_stamp_leaves_nothing_for_the_response()
    {
        var stamp = new CallStamp(Guid.NewGuid(), 1, 1);
        var (seenByGrain, left) = await InvokeAsync(new() { [CallStamp.RequestContextKey] = stamp });
        Assert.Equal(stamp, seenByGrain);
        Assert.Empty(left);
    }

    [Fact]
    public async Task An_unstamped_call_keeps_its_context_as_it_was()
    {
        var (seenByGrain, left) = await InvokeAsync(new() { ["trace"] = "abc" });
        Assert.True(seenByGrain.IsNone);
        Assert.Equal(["trace"], left.Keys);
    }

    /// <summary>As Orleans' invoker: import, run the filter and the grain nested, then read what a response would carry.</summary>
    private static async Task<(CallStamp SeenByGrain, Dictionary<string, object> Left)> InvokeAsync(Dictionary<string, object> message)
    {
        RequestContextExtensions.Import(message);
        var seen = await FilterThenGrainAsync();
        var left = RequestContext.Entries.ToDictionary(e => e.Key, e => e.Value);
        RequestContext.Clear();
        return (seen, left);
    }

    private static async Task<CallStamp> FilterThenGrainAsync()
    {
        StampOutOfResponse.Apply();
        await Task.Yield(); // the grain's method runs later in the call's own flow
        return CallStamp.Current;
    }
}
