using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Runs a leading activation's pending outbox effects (<see cref="ReplicatedContext.AfterCommit"/>): each in its own
/// loop on the activation's scheduler, retried with backoff while it throws, and, once it completes, marked done by
/// an <see cref="OutboxRecord"/> proposed into the log. Nothing here is replicated state: an activation that stops
/// leaves its unfinished effects in the outbox, and the next activation runs them again (at least once; exactly
/// once towards replicated grains, whose calls are stamped from the effect's id).
/// </summary>
internal sealed partial class EffectRunner(GrainId grain, IReplicatedStateMachine machine, Func<Command, ProposeResult> propose, ILogger logger)
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly HashSet<long> _running = [];
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Starts every pending effect not already running. Called on the activation's scheduler.</summary>
    public void StartPending()
    {
        if (_stop.IsCancellationRequested) return;
        foreach (var (sequence, _) in machine.Outbox.Pending)
        {
            if (_running.Add(sequence)) _ = RunAsync(sequence);
        }
    }

    /// <summary>The effect's completion record was applied: it will not run again here.</summary>
    public void Completed(long sequence) => _running.Remove(sequence);

    /// <summary>The activation stops or lost its leadership: effects still running are cancelled and left to the next one.</summary>
    public void Stop() => _stop.Cancel();

    private async Task RunAsync(long sequence)
    {
        var token = _stop.Token;
        for (int attempt = 1; !token.IsCancellationRequested && machine.Outbox.IsPending(sequence); attempt++)
        {
            try
            {
                await machine.RunEffectAsync(sequence, attempt, token);
                if (propose(OutboxRecord.Done(sequence, machine.Outbox.FirstPending)) == ProposeResult.Queued) return;
                // Not accepted for proposal now (overloaded or stopping): run it again later; its calls repeat their stamps.
                LogDoneNotProposed(logger, grain, sequence);
            }
            catch (Exception exception) when (!token.IsCancellationRequested)
            {
                LogEffectFailed(logger, exception, grain, sequence, attempt);
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(Backoff(attempt), token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        _running.Remove(sequence);
    }

    private static TimeSpan Backoff(int attempt)
    {
        double ms = Math.Min(MaxBackoff.TotalMilliseconds, FirstBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 16)));
        return TimeSpan.FromMilliseconds(ms * (0.5 + Random.Shared.NextDouble() / 2)); // jitter: retries of many grains spread out
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain {Grain}: outbox effect {Sequence} failed (attempt {Attempt}); it is retried")]
    private static partial void LogEffectFailed(ILogger logger, Exception exception, GrainId grain, long sequence, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain {Grain}: outbox effect {Sequence} ran, but its completion could not be proposed now; it runs again later")]
    private static partial void LogDoneNotProposed(ILogger logger, GrainId grain, long sequence);
}
