using System.Net;
using Appliance.Networking.Tcp;
using Appliance.Seeding.Upload;

namespace Appliance.Seeding.Transport;

/// <summary>
/// The byte stream one <see cref="Sessions.PeerSession"/> runs over (TCP, uTP, or a wrapper such as encryption), so
/// the peer-wire protocol exists once. One receive and one send may be in flight at a time (the session's two loops).
/// </summary>
internal abstract class PeerTransport
{
    /// <summary>The peer's address (what connection limits and logs use).</summary>
    public abstract IPEndPoint Remote { get; }

    /// <summary>
    /// True when a send may hand the kernel pages of a memory mapping (TCP's gather <c>sendmsg</c>). False when the
    /// transport must touch the bytes itself (uTP packets, encryption): blocks are then read with pread into pooled
    /// buffers first, so user code never reads mapped pages (a truncated file would raise SIGBUS).
    /// </summary>
    public abstract bool SendsMappedPages { get; }

    /// <summary>Completes when data can be received, without taking a buffer (so an idle peer holds none).</summary>
    public abstract ValueTask<SocketResult> WaitForDataAsync();

    /// <summary>Receives into <paramref name="buffer"/>; 0 bytes with success means the peer closed.</summary>
    public abstract ValueTask<SocketResult> ReceiveAsync(Memory<byte> buffer);

    /// <summary>
    /// Sends the whole prepared batch (control bytes, piece headers, blocks) or fails. <paramref name="waited"/> says
    /// whether it had to wait for the peer (a slow reader). For a transport with <see cref="SendsMappedPages"/> false,
    /// <see cref="SendBatch.Parts"/> are pooled copies it may read (or transform in place).
    /// </summary>
    public abstract ValueTask<SendOutcome> SendAsync(SendBatch batch, Action? waited);

    /// <summary>
    /// How far the peer has taken what was sent (bytes it acknowledged, and whether sent bytes still wait for it), read
    /// without allocating. False when the transport cannot tell: then only a send that has to wait shows a peer that does
    /// not read.
    /// </summary>
    public virtual bool TryGetSendProgress(out SendProgress progress)
    {
        progress = default;
        return false;
    }

    /// <summary>Closes the stream; both loops end. Safe to call more than once, from any thread.</summary>
    public abstract void Close();

    /// <summary>Releases what the transport holds, once both loops have ended.</summary>
    public abstract void Dispose();
}
