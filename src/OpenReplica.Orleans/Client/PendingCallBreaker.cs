using System.Collections;
using System.Linq.Expressions;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Ends attempts of stamped calls that are pending in the Orleans client, so the stamping filter retries them at
/// once (same stamp) instead of after <c>ClientMessagingOptions.ResponseTimeout</c>.
/// <para>
/// Why a reflection seam: a client sends a call through one gateway and keeps a callback for it in
/// <c>OutsideRuntimeClient</c> until the answer comes or the response timeout passes. When that gateway's process dies,
/// or the grain's silo behind a live gateway dies, no answer will ever come, but Orleans 10 has no public way to end
/// the pending call early (silos do it for calls to a silo declared dead, <c>BreakOutstandingMessagesToSilo</c>; clients
/// never do). An outgoing filter may not call <c>context.Invoke()</c> again while the first invocation is pending, so
/// the retry must wait for that invocation to end. This seam ends it the way Orleans ends calls to a dead silo:
/// <c>CallbackData.OnTargetSiloFail</c>, which completes the call with <see cref="SiloUnavailableException"/>.
/// </para>
/// <para>
/// What it touches (internal to Orleans.Core 10.x, checked once at first use; if anything is missing or the major
/// version differs, the seam stays off, a warning is logged, and calls fall back to the response timeout):
/// <c>OutsideRuntimeClient.callbacks</c> (a dictionary of <c>CallbackData</c>), <c>CallbackData.Message</c>,
/// <c>CallbackData.OnTargetSiloFail(SiloAddress)</c> (or its parameterless form), <c>Message.RequestContextData</c>,
/// <c>Message.TargetSilo</c> (for a client, the gateway the attempt went through), <c>Message.BodyObject</c>. Only callbacks whose request context carries one of this
/// process's stamps, or whose body is one of this process's reads in flight (<see cref="PendingReads"/>: reads carry no
/// stamp), are touched: other calls keep Orleans' behaviour.
/// </para>
/// </summary>
internal sealed partial class PendingCallBreaker
{
    /// <summary>The Orleans major version whose internals this seam was written and tested against.</summary>
    public const int CheckedOrleansMajorVersion = 10;

    private readonly IDictionary? _callbacks;
    private readonly Func<object, object?>? _messageOf;
    private readonly Func<object, Dictionary<string, object>?>? _requestContextOf;
    private readonly Func<object, object?>? _bodyOf;
    private readonly Func<object, SiloAddress?>? _sentToOf;
    private readonly PendingReads? _reads;
    private readonly Action<object, object>? _fail;
    private long _broken;

    private PendingCallBreaker(
        IDictionary callbacks, Func<object, object?> messageOf, Func<object, Dictionary<string, object>?> requestContextOf, Func<object, object?> bodyOf,
        Func<object, SiloAddress?> sentToOf, PendingReads? reads, Action<object, object> fail)
    {
        _callbacks = callbacks;
        _messageOf = messageOf;
        _requestContextOf = requestContextOf;
        _bodyOf = bodyOf;
        _sentToOf = sentToOf;
        _reads = reads;
        _fail = fail;
    }

    private PendingCallBreaker(string disabledReason) => DisabledReason = disabledReason;

    /// <summary>Null when the seam is active; otherwise why it is off.</summary>
    public string? DisabledReason { get; }

    public bool IsActive => DisabledReason is null;

    /// <summary>Attempts ended so far (each one was then retried, or given up at its deadline).</summary>
    public long Broken => Interlocked.Read(ref _broken);

    /// <summary>A breaker that does nothing: silos, where Orleans breaks calls to dead silos itself.</summary>
    public static PendingCallBreaker Off(string reason) => new(reason);

    /// <summary>Binds to the client's runtime found in <paramref name="services"/>, or returns an inactive breaker saying why.</summary>
    public static PendingCallBreaker Create(IServiceProvider services, ILogger logger)
    {
        var breaker = TryBind(services);
        if (!breaker.IsActive) LogSeamOff(logger, breaker.DisabledReason!);
        return breaker;
    }

    /// <summary>
    /// The silos the pending attempts whose stamp matches <paramref name="which"/> were sent to: for a client, the
    /// gateway each went through (Orleans' client connection writes its gateway into a message it sends).
    /// </summary>
    public IReadOnlyCollection<SiloAddress> SentThrough(Func<CallStamp, bool> which)
    {
        var gateways = new HashSet<SiloAddress>();
        foreach (var (_, message) in Pending(which))
        {
            if (_sentToOf!(message) is { } sentTo) gateways.Add(sentTo);
        }
        return gateways;
    }

    /// <summary>
    /// Ends every pending attempt whose stamp matches <paramref name="which"/>; its invocation completes with
    /// <see cref="SiloUnavailableException"/>. Returns how many were ended. An answer that still arrives for one is
    /// dropped by Orleans (no callback any more).
    /// </summary>
    public int Break(Func<CallStamp, bool> which)
    {
        int broken = 0;
        foreach (var (callback, message) in Pending(which))
        {
            try
            {
                _fail!(callback, message); // a callback already completed ignores this (Orleans completes a callback once)
                broken++;
            }
            catch (NullReferenceException)
            {
                // The call completed while this loop ran and Orleans released its callback's parts (seen when a
                // gateway-list drop and a connection loss ended calls at the same moment): nothing is left to end.
            }
        }

        Interlocked.Add(ref _broken, broken);
        return broken;
    }

    /// <summary>
    /// The pending callbacks (and their messages) of this process's stamped calls and reads whose stamp matches
    /// <paramref name="which"/>. The dictionary enumerator takes no lock; a call registered meanwhile may or may not be
    /// seen, and that is fine: callers act on an event (a lost gateway, a deadline, a stalled call) that the newer
    /// attempt already follows.
    /// </summary>
    private IEnumerable<(object Callback, object Message)> Pending(Func<CallStamp, bool> which)
    {
        if (_callbacks is null) yield break;
        var entries = _callbacks.GetEnumerator();
        while (entries.MoveNext())
        {
            if (entries.Value is not { } callback || _messageOf!(callback) is not { } message) continue;
            if (StampOf(message) is { } stamp && which(stamp)) yield return (callback, message);
        }
    }

    /// <summary>The stamp a pending message was sent under: in its request context (writes), or its read's (<see cref="PendingReads"/>).</summary>
    private CallStamp? StampOf(object message)
    {
        if (_requestContextOf!(message) is { } context && context.TryGetValue(CallStamp.RequestContextKey, out var value) && value is CallStamp stamp) return stamp;
        if (_reads is not null && _bodyOf!(message) is { } body && _reads.TryGet(body, out var readStamp)) return readStamp;
        return null;
    }

    private static PendingCallBreaker TryBind(IServiceProvider services)
    {
        var core = typeof(IClusterClient).Assembly; // Orleans.Core
        int major = core.GetName().Version?.Major ?? 0;
        if (major != CheckedOrleansMajorVersion)
        {
            return Off($"Orleans.Core {core.GetName().Version} is not the checked major version {CheckedOrleansMajorVersion}");
        }

        const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        var clientType = core.GetType("Orleans.OutsideRuntimeClient");
        var callbackType = core.GetType("Orleans.Runtime.CallbackData");
        var messageType = core.GetType("Orleans.Runtime.Message");
        if (clientType is null || callbackType is null || messageType is null)
        {
            return Off("Orleans.Core has no OutsideRuntimeClient, CallbackData or Message type");
        }

        if (services.GetService(clientType) is not { } client)
        {
            return Off("no OutsideRuntimeClient in this process's services (not an Orleans client)");
        }

        var callbacksField = clientType.GetField("callbacks", Any);
        var messageProperty = callbackType.GetProperty("Message", Any);
        // Orleans 10.4 takes the dead silo (OnTargetSiloFail(SiloAddress)); other 10.x builds take nothing.
        var targetSiloProperty = messageType.GetProperty("TargetSilo", Any);
        var failMethod = callbackType.GetMethod("OnTargetSiloFail", Any, [typeof(SiloAddress)])
            ?? callbackType.GetMethod("OnTargetSiloFail", Any, Type.EmptyTypes);
        var contextProperty = messageType.GetProperty("RequestContextData", Any);
        var bodyProperty = messageType.GetProperty("BodyObject", Any);
        string? missing =
            callbacksField?.GetValue(client) is not IDictionary ? $"OutsideRuntimeClient.callbacks ({callbacksField?.FieldType.Name ?? "absent"})"
            : messageProperty is null || messageProperty.PropertyType != messageType ? $"CallbackData.Message ({messageProperty?.PropertyType.Name ?? "absent"})"
            : failMethod is null ? "CallbackData.OnTargetSiloFail"
            : targetSiloProperty is null || targetSiloProperty.PropertyType != typeof(SiloAddress) ? "Message.TargetSilo"
            : contextProperty is null || contextProperty.PropertyType != typeof(Dictionary<string, object>) ? $"Message.RequestContextData ({contextProperty?.PropertyType.Name ?? "absent"})"
            : bodyProperty is null || bodyProperty.PropertyType != typeof(object) ? $"Message.BodyObject ({bodyProperty?.PropertyType.Name ?? "absent"})"
            : null;
        if (missing is not null)
        {
            return Off($"{missing} is not as expected");
        }

        var callbacks = (IDictionary)callbacksField!.GetValue(client)!;
        var item = Expression.Parameter(typeof(object), "item");
        var messageOf = Expression.Lambda<Func<object, object?>>(
            Expression.Convert(Expression.Property(Expression.Convert(item, callbackType), messageProperty!), typeof(object)), item).Compile();
        var contextOf = Expression.Lambda<Func<object, Dictionary<string, object>?>>(
            Expression.Property(Expression.Convert(item, messageType), contextProperty!), item).Compile();
        var bodyOf = Expression.Lambda<Func<object, object?>>(
            Expression.Property(Expression.Convert(item, messageType), bodyProperty!), item).Compile();
        var sentToOf = Expression.Lambda<Func<object, SiloAddress?>>(
            Expression.Property(Expression.Convert(item, messageType), targetSiloProperty!), item).Compile();
        // The silo passed is the one the attempt was sent to (for a client, its gateway): the call is failed as if that
        // silo had died, which is what the caller of this seam has concluded.
        // The message is the one read from the callback before (a completed callback may no longer have one).
        var callback = Expression.Convert(item, callbackType);
        var messageItem = Expression.Parameter(typeof(object), "message");
        var sentTo = Expression.Property(Expression.Convert(messageItem, messageType), targetSiloProperty!);
        var fail = Expression.Lambda<Action<object, object>>(
            failMethod!.GetParameters().Length == 1 ? Expression.Call(callback, failMethod, sentTo) : Expression.Call(callback, failMethod), item, messageItem).Compile();
        return new PendingCallBreaker(callbacks, messageOf, contextOf, bodyOf, sentToOf, services.GetService(typeof(PendingReads)) as PendingReads, fail);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Early retry of calls through a lost gateway is off ({Reason}): such calls are retried after ClientMessagingOptions.ResponseTimeout")]
    private static partial void LogSeamOff(ILogger logger, string reason);
}
