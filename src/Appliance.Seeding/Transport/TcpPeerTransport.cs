using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Appliance.Networking.Tcp;
using Appliance.Seeding.Upload;

namespace Appliance.Seeding.Transport;

/// <summary>
/// A peer-wire stream over an accepted TCP socket: zero-byte receives, and batches sent with one gather
/// <c>sendmsg</c> of piece headers and mapped pages (the kernel copies; EFAULT, not SIGBUS, if a file shrank).
/// </summary>
internal sealed class TcpPeerTransport(Socket socket, IPEndPoint remote) : PeerTransport
{
    private readonly SocketAwaitableEventArgs _receiveArgs = new();
    private readonly SocketAwaitableEventArgs _sendArgs = new();

    public Socket Socket => socket;

    public override IPEndPoint Remote => remote;

    public override bool SendsMappedPages => true;

    public override ValueTask<SocketResult> WaitForDataAsync() => SocketReadiness.WaitForDataAsync(_receiveArgs, socket);

    public override ValueTask<SocketResult> ReceiveAsync(Memory<byte> buffer) => _receiveArgs.ReceiveAsync(socket, buffer);

    // Pooled builder: a send that has to wait for a slow peer reuses a pooled state machine instead of allocating one.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<SendOutcome> SendAsync(SendBatch batch, Action? waited)
    {
        bool hasWaited = false;
        while (true)
        {
            var outcome = batch.TrySendGathered(socket);
            if (outcome != SendOutcome.Sent || batch.IsSent) return outcome;
            if (!hasWaited)
            {
                hasWaited = true;
                waited?.Invoke();
            }
            var result = await _sendArgs.SendAsync(socket, batch.Remainder).ConfigureAwait(false);
            if (!result.Succeeded) return result.Error == SocketError.Fault ? SendOutcome.BadAddress : SendOutcome.Failed;
            batch.RemainderSent();
        }
    }

    public override bool TryGetSendProgress(out SendProgress progress) => SendProgress.TryRead(socket, out progress);

    public override void Close()
    {
        try { socket.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        socket.Dispose();
    }

    public override void Dispose()
    {
        _receiveArgs.Dispose();
        _sendArgs.Dispose();
    }
}
