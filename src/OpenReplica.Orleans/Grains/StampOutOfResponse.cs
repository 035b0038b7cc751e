using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Keeps a call's stamp out of its response. Orleans copies the request context that is current when it builds a
/// response (<c>MessageFactory.CreateResponseMessage</c>) into the response, and that is the context it imported from
/// the request: without this, every stamp would travel back to its caller, where nothing reads it, and be copied,
/// serialized and deserialized once more per call (a read under a lease paid for it as much as for the read itself).
/// <para>
/// How: before the grain runs, the stamp is removed from the dictionary Orleans imported for this message (it made
/// that dictionary for this call alone, and nothing has run in the call yet, so nothing else reads it) and put back
/// with <see cref="RequestContext.Set"/>, which gives the call's own flow a copy that has it. The grain still sees
/// <see cref="CallStamp.Current"/>; the response is built in Orleans' outer flow, which keeps the imported dictionary,
/// now without the stamp (and with no context at all, if the stamp was all it had). If Orleans ever hands out a copy
/// instead of its dictionary, removing from the copy changes nothing and the stamp simply travels back as before.
/// </para>
/// </summary>
internal static class StampOutOfResponse
{
    /// <summary>Call at the start of the grain's incoming filter, before anything of the call runs.</summary>
    public static void Apply()
    {
        if (RequestContext.Entries is not Dictionary<string, object> imported || !imported.Remove(CallStamp.RequestContextKey, out var stamp)) return;
        RequestContext.Set(CallStamp.RequestContextKey, stamp);
    }
}
