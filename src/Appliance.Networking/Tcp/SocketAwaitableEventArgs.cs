using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Appliance.Networking.Tcp;

/// <summary>
/// One reusable <see cref="SocketAsyncEventArgs"/> exposed as an allocation-free awaitable (the idea of Kestrel's
/// SocketAwaitableEventArgs). One operation at a time. Errors come back in the result, not as exceptions,
/// so a peer resetting its connection costs no throw.
/// </summary>
public sealed class SocketAwaitableEventArgs : SocketAsyncEventArgs, IValueTaskSource<SocketResult>
{
    private ManualResetValueTaskSourceCore<SocketResult> _source;

    public SocketAwaitableEventArgs() : base(unsafeSuppressExecutionContextFlow: true)
    {
        // The completion already runs on a thread-pool thread; continuing inline there avoids a second hop.
        _source.RunContinuationsAsynchronously = false;
    }

    public ValueTask<SocketResult> ReceiveAsync(Socket socket, Memory<byte> buffer)
    {
        SetBuffer(buffer);
        return Run(socket.ReceiveAsync(this));
    }

    public ValueTask<SocketResult> SendAsync(Socket socket, ReadOnlyMemory<byte> buffer)
    {
        SetBuffer(System.Runtime.InteropServices.MemoryMarshal.AsMemory(buffer));
        return Run(socket.SendAsync(this));
    }

    /// <summary>Accepts into <see cref="SocketAsyncEventArgs.AcceptSocket"/> (cleared before each accept).</summary>
    public ValueTask<SocketResult> AcceptAsync(Socket listener)
    {
        AcceptSocket = null;
        return Run(listener.AcceptAsync(this));
    }

    private ValueTask<SocketResult> Run(bool pending)
    {
        if (!pending)
        {
            var result = new SocketResult(BytesTransferred, SocketError);
            SetBuffer(Memory<byte>.Empty);
            return new ValueTask<SocketResult>(result);
        }
        return new ValueTask<SocketResult>(this, _source.Version);
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        var result = new SocketResult(BytesTransferred, SocketError);
        SetBuffer(Memory<byte>.Empty);
        _source.SetResult(result);
    }

    SocketResult IValueTaskSource<SocketResult>.GetResult(short token)
    {
        try
        {
            return _source.GetResult(token);
        }
        finally
        {
            _source.Reset();
        }
    }

    ValueTaskSourceStatus IValueTaskSource<SocketResult>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<SocketResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}

/// <summary>The outcome of one socket operation: bytes moved, or the error.</summary>
public readonly record struct SocketResult(int BytesTransferred, SocketError Error)
{
    public bool Succeeded => Error == SocketError.Success;
}
