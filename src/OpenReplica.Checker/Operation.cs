namespace OpenReplica.Checker;

/// <summary>
/// One operation of a concurrent history, as seen by its caller.
/// </summary>
/// <param name="Process">Client (process, thread, grain call chain) that issued the operation. Informational only: the checker
/// relies on the <see cref="Call"/>/<see cref="Return"/> times, not on the process number.</param>
/// <param name="Input">What the caller asked for.</param>
/// <param name="Output">What the caller got back. Ignored when <see cref="Return"/> is null.</param>
/// <param name="Call">Time of invocation (any monotonic clock: ticks, nanoseconds, a line number...).</param>
/// <param name="Return">Time of the response, or null when the operation is indeterminate (the caller saw a timeout or a
/// crash): it may then take effect at any point after <see cref="Call"/>, or never.</param>
public sealed record Operation<TInput, TOutput>(int Process, TInput Input, TOutput? Output, long Call, long? Return)
{
    /// <summary>True when the caller never learned the outcome (<see cref="Return"/> is null).</summary>
    public bool IsIndeterminate => Return is null;
}
