using System.Net;
using System.Runtime.CompilerServices;
using Appliance.Networking.Tcp;
using Appliance.Networking.Tcp.Epoll;
using Appliance.Seeding.Upload;

namespace Appliance.Seeding.Transport;

/// <summary>
/// A peer-wire stream over a TCP socket registered with our <see cref="EpollEngine"/> (<c>--tcp-engine epoll</c>): the
/// same zero-byte waits and gather sends as <see cref="TcpPeerTransport"/>, but a wait that parks is resumed by the
/// epoll loop thread, which runs the session's receive loop (and the send loop it wakes inline) on the spot.
/// </summary>
internal sealed class EpollPeerTransport(EpollSocket socket, IPEndPoint remote) : PeerTransport
{
    public EpollSocket Socket => socket;

    public override IPEndPoint Remote => remote;

    public override bool SendsMappedPages => true;

    public override ValueTask<SocketResult> WaitForDataAsync() => socket.WaitForDataAsync();

    public override ValueTask<SocketResult> ReceiveAsync(Memory<byte> buffer) => socket.ReceiveAsync(buffer);

    // Pooled builder: a send that has to wait for a slow peer reuses a pooled state machine instead of allocating one.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<SendOutcome> SendAsync(SendBatch batch, Action? waited)
    {
        bool hasWaited = false;
        while (true)
        {
            socket.BeginSend();
            var outcome = batch.TrySendGathered(socket.Socket);
            if (outcome != SendOutcome.Sent || batch.IsSent) return outcome;
            if (!hasWaited)
            {
                hasWaited = true;
                waited?.Invoke();
            }
            var writable = await socket.WaitWritableAsync().ConfigureAwait(false);
            if (!writable.Succeeded) return SendOutcome.Failed;
        }
    }

    public override bool TryGetSendProgress(out SendProgress progress) => SendProgress.TryRead(socket.Socket, out progress);

    public override void Close() => socket.Close();

    public override void Dispose()
    {
    }
}
