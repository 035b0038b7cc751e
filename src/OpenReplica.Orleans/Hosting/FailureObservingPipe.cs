using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace OpenReplica.Orleans;

/// <summary>
/// A connection's transport with a reader that reports the exception a read ends with (the transport completes its
/// input with the socket's error), then passes it on unchanged. Used to learn that a gateway connection ended because
/// its traffic was lost (<see cref="GatewaySendTimeout"/>).
/// </summary>
internal sealed class FailureObservingPipe(IDuplexPipe inner, Action<Exception> onFailure) : IDuplexPipe
{
    public PipeReader Input { get; } = new Reader(inner.Input, onFailure);

    public PipeWriter Output => inner.Output;

    private sealed class Reader(PipeReader inner, Action<Exception> onFailure) : PipeReader
    {
        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override bool TryRead(out ReadResult result)
        {
            try
            {
                return inner.TryRead(out result);
            }
            catch (Exception exception)
            {
                onFailure(exception);
                throw;
            }
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ValueTask<ReadResult> read;
            try
            {
                read = inner.ReadAsync(cancellationToken);
            }
            catch (Exception exception)
            {
                onFailure(exception);
                throw;
            }
            return read.IsCompletedSuccessfully ? read : AwaitAsync(read);
        }

        // Pooled: a gateway connection reads often, and most reads wait for data.
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<ReadResult> AwaitAsync(ValueTask<ReadResult> read)
        {
            try
            {
                return await read;
            }
            catch (Exception exception)
            {
                onFailure(exception);
                throw;
            }
        }
    }
}
