using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;

namespace OpenReplica.Orleans.Tests;

public sealed class CallOutcomeUnknownExceptionTests
{
    [Fact]
    public void It_names_the_call_and_survives_serialization_with_its_last_failure()
    {
        var stamp = new CallStamp(Guid.NewGuid(), 42, 40);
        var target = GrainId.Create("counter", "blip");
        var exception = new CallOutcomeUnknownException(stamp, target, "Add", 7, TimeSpan.FromSeconds(60), new ReplicaUnavailableException("no majority"));
        Assert.Contains($"{stamp.ClientId:N}#42", exception.Message);
        Assert.Contains("may or may not have been applied", exception.Message);
        Assert.Equal(new CallId(stamp.ClientId, 42), exception.Call);

        // A grain-to-grain call that gives up inside a grain reaches that grain's caller through Orleans' serializer.
        using var services = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(CallOutcomeUnknownException).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var copy = serializer.Deserialize<Exception>(serializer.SerializeToArray<Exception>(exception));

        var unknown = Assert.IsType<CallOutcomeUnknownException>(copy);
        Assert.Equal((stamp, target, "Add", 7, TimeSpan.FromSeconds(60)), (unknown.Stamp, unknown.Target, unknown.Method, unknown.Attempts, unknown.Elapsed));
        Assert.Equal(exception.Message, unknown.Message);
        Assert.Equal("no majority", Assert.IsType<ReplicaUnavailableException>(unknown.LastFailure).Message);
    }
}
