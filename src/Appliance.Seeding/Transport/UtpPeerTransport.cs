using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Appliance.Networking.Signals;
using Appliance.Networking.Tcp;
using Appliance.Networking.Utp;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Upload;

namespace Appliance.Seeding.Transport;

/// <summary>
/// A peer-wire stream over an incoming uTP connection. Receives copy out of the connection's receive ring; sends copy
/// the batch (blocks already read with pread, never from the mapping) into the connection's packets, waiting while its
/// send backlog is full. The connection's events wake the two loops through allocation-free signals.
/// </summary>
internal sealed class UtpPeerTransport(UtpConnection connection, IPEndPoint remote) : PeerTransport, IUtpObserver
{
    private readonly AsyncSignal _readable = new();
    private readonly AsyncSignal _writable = new();

    public UtpConnection Connection => connection;

    public override IPEndPoint Remote => remote;

    public override bool SendsMappedPages => false;

    void IUtpObserver.Readable() => _readable.Set();

    void IUtpObserver.Writable() => _writable.Set();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<SocketResult> WaitForDataAsync()
    {
        while (!connection.CanRead) await _readable.WaitAsync().ConfigureAwait(false);
        return new SocketResult(0, SocketError.Success);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<SocketResult> ReceiveAsync(Memory<byte> buffer)
    {
        while (true)
        {
            int read = connection.Read(buffer.Span, UtpListener.NowMicros);
            if (read > 0) return new SocketResult(read, SocketError.Success);
            // A clean end reads as 0 bytes with success, as on TCP.
            if (connection.TryGetEnd(out var error)) return new SocketResult(0, error);
            await _readable.WaitAsync().ConfigureAwait(false);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<SendOutcome> SendAsync(SendBatch batch, Action? waited)
    {
        bool hasWaited = false;
        for (int i = 0; i < batch.Parts.Length; i++)
        {
            int offset = 0;
            while (true)
            {
                var part = batch.Parts[i];
                // Piece headers and blocks share packets: only the batch's last part lets a packet leave half full.
                int taken = connection.Write(part.Span[offset..], UtpListener.NowMicros, more: i < batch.Parts.Length - 1);
                if (taken < 0) return SendOutcome.Failed;
                offset += taken;
                if (offset == part.Length) break;
                if (!hasWaited)
                {
                    hasWaited = true;
                    waited?.Invoke();
                }
                await _writable.WaitAsync().ConfigureAwait(false);
            }
        }
        return SendOutcome.Sent;
    }

    public override bool TryGetSendProgress(out SendProgress progress)
    {
        progress = connection.SendProgress;
        return true;
    }

    public override void Close() => connection.Close(UtpListener.NowMicros);

    public override void Dispose()
    {
    }
}
