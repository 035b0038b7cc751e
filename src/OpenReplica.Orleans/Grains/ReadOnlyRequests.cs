using Orleans.CodeGeneration;
using Orleans.Serialization.Invocation;

namespace OpenReplica.Orleans;

/// <summary>
/// Whether a request is a read by its own options (Orleans' generated request of a <c>[ReadOnly]</c> method carries
/// <see cref="InvokeMethodOptions.ReadOnly"/>). One test for both sides, because they must agree: the caller sends a
/// read without its stamp, and the grain runs every request marked so as a read (outside the log), so a request the
/// caller left unstamped never becomes a write that could not be deduplicated.
/// </summary>
internal static class ReadOnlyRequests
{
    public static bool IsMarked(IInvokable request) =>
        request is IRequest marked && (marked.Options & InvokeMethodOptions.ReadOnly) != 0;
}
