using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Appliance.Networking.Buffers;
using Appliance.Networking.Tcp;
using Appliance.Protocol.Encryption;
using Appliance.Seeding.Transport;
using Appliance.Seeding.Upload;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ObjectPool;

namespace Appliance.Seeding.Encryption;

/// <summary>
/// MSE/PE over another transport, on the same port as plaintext: the first bytes decide. A plaintext BitTorrent
/// handshake makes this a pass-through (mapped pages still go to the kernel untouched); anything else is taken as an
/// encrypted handshake, answered here, and the session only ever sees the decrypted initial payload and stream.
/// With RC4 the send path copies blocks with pread into pooled buffers (<see cref="SendsMappedPages"/> false) and
/// encrypts them in place: no allocation per block.
/// </summary>
internal sealed class EncryptedTransport : PeerTransport, IValueTaskSource<SocketResult>
{
    private static ReadOnlySpan<byte> PlaintextPrefix => "\u0013BitTorrent protocol"u8;

    private readonly PeerTransport _inner;
    private readonly EncryptionServices _services;
    private Mode _mode;
    private MseResponder? _responder;
    private Rc4? _decryptor;
    private Rc4? _encryptor;
    private int _admitted;

    // An RC4 receive that has to wait: completed by OnReceived without an async state machine (no allocation per receive).
    private ManualResetValueTaskSourceCore<SocketResult> _receive;
    private ValueTaskAwaiter<SocketResult> _pendingReceive;
    private Memory<byte> _receiveBuffer;
    private Action? _onReceived;

    public EncryptedTransport(PeerTransport inner, EncryptionServices services)
    {
        _inner = inner;
        _services = services;
    }

    private enum Mode : byte
    {
        Detecting,
        Handshaking,
        Plaintext,
        Rc4,
    }

    public override IPEndPoint Remote => _inner.Remote;

    /// <summary>The transport this one wraps.</summary>
    public PeerTransport Inner => _inner;

    public override bool SendsMappedPages => _mode != Mode.Rc4 && _inner.SendsMappedPages;

    public override ValueTask<SocketResult> WaitForDataAsync() => _inner.WaitForDataAsync();

    public override ValueTask<SocketResult> ReceiveAsync(Memory<byte> buffer) => _mode switch
    {
        Mode.Plaintext => _inner.ReceiveAsync(buffer),
        Mode.Rc4 => ReceiveDecryptedAsync(buffer),
        _ => HandshakeAsync(buffer),
    };

    public override ValueTask<SendOutcome> SendAsync(SendBatch batch, Action? waited)
    {
        if (_encryptor is { } rc4)
        {
            // The parts are pooled copies here (SendsMappedPages is false), so they may be encrypted in place.
            foreach (var part in batch.Parts) rc4.Apply(MemoryMarshal.AsMemory(part).Span);
        }
        return _inner.SendAsync(batch, waited);
    }

    public override bool TryGetSendProgress(out SendProgress progress) => _inner.TryGetSendProgress(out progress);

    public override void Close() => _inner.Close();

    public override void Dispose()
    {
        Leave();
        _inner.Dispose();
    }

    private ValueTask<SocketResult> ReceiveDecryptedAsync(Memory<byte> buffer)
    {
        var pending = _inner.ReceiveAsync(buffer);
        if (pending.IsCompleted) return new ValueTask<SocketResult>(Decrypt(buffer, pending.Result));
        _receiveBuffer = buffer;
        _pendingReceive = pending.GetAwaiter();
        _receive.Reset();
        _pendingReceive.UnsafeOnCompleted(_onReceived ??= OnReceived);
        return new ValueTask<SocketResult>(this, _receive.Version);
    }

    private void OnReceived()
    {
        SocketResult result;
        try
        {
            result = _pendingReceive.GetResult();
        }
        catch (Exception e)
        {
            _receive.SetException(e);
            return;
        }
        _pendingReceive = default;
        _receive.SetResult(Decrypt(_receiveBuffer, result));
    }

    private SocketResult Decrypt(Memory<byte> buffer, SocketResult result)
    {
        if (result.Succeeded && result.BytesTransferred > 0) _decryptor!.Apply(buffer.Span[..result.BytesTransferred]);
        return result;
    }

    SocketResult IValueTaskSource<SocketResult>.GetResult(short token) => _receive.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<SocketResult>.GetStatus(short token) => _receive.GetStatus(token);

    void IValueTaskSource<SocketResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _receive.OnCompleted(continuation, state, token, flags);

    /// <summary>
    /// Receives until the stream is known to be plaintext, or until an encrypted handshake completed; returns the
    /// plaintext bytes, or the decrypted initial payload followed by the (decrypted) bytes that came after it.
    /// </summary>
    private async ValueTask<SocketResult> HandshakeAsync(Memory<byte> buffer)
    {
        // Received bytes land in the window; the initial payload is later put in front of what followed it, so the
        // window leaves it room.
        var window = buffer[..(buffer.Length - MseResponder.MaxInitialPayload)];
        int held = 0;
        while (true)
        {
            var received = await _inner.ReceiveAsync(window[held..]).ConfigureAwait(false);
            if (!received.Succeeded || received.BytesTransferred == 0) return received;
            held += received.BytesTransferred;

            if (_mode == Mode.Detecting)
            {
                int compared = Math.Min(held, PlaintextPrefix.Length);
                if (window.Span[..compared].SequenceEqual(PlaintextPrefix[..compared]))
                {
                    if (held < PlaintextPrefix.Length) continue;
                    if (_services.Policy == EncryptionPolicy.Require)
                    {
                        _services.Counters.RefusedPlaintext();
                        EncryptionLog.Refused(_services.Logger, Remote, "plaintext handshake, encryption required");
                        return new SocketResult(0, SocketError.ProtocolNotSupported);
                    }
                    _mode = Mode.Plaintext;
                    return new SocketResult(held, SocketError.Success);
                }
                if (!_services.Gate.TryEnter(Remote.Address))
                {
                    _services.Counters.Throttled();
                    EncryptionLog.Refused(_services.Logger, Remote, "encrypted handshake over the concurrency or rate cap");
                    return new SocketResult(0, SocketError.TooManyOpenSockets);
                }
                _admitted = 1;
                _responder = new MseResponder(_services.Lookup, _services.Allowed, _services.Policy != EncryptionPolicy.Allow);
                _mode = Mode.Handshaking;
            }

            var status = _responder!.Receive(window.Span[..held], out int consumed);
            if (status == MseStatus.Failed)
            {
                _services.Counters.Failed();
                EncryptionLog.Refused(_services.Logger, Remote, _responder.Failure!);
                return new SocketResult(0, SocketError.ConnectionAborted);
            }
            if (_responder.Reply.Length > 0)
            {
                if (!await SendControlAsync(_responder.Reply.ToArray()).ConfigureAwait(false)) return new SocketResult(0, SocketError.ConnectionReset);
                _responder.ReplySent();
            }
            if (status == MseStatus.NeedMoreData)
            {
                held = 0;
                continue;
            }
            int length = Established(buffer, consumed, held);
            if (length > 0) return new SocketResult(length, SocketError.Success);
            // An empty initial payload and nothing after it yet: 0 bytes would read as a close, so wait for the stream.
            return await ReceiveAsync(buffer).ConfigureAwait(false);
        }
    }

    private int Established(Memory<byte> buffer, int consumed, int held)
    {
        var responder = _responder!;
        var span = buffer.Span;
        var rest = span[consumed..held];
        bool rc4 = responder.Selected == CryptoMethods.Rc4;
        if (rc4) responder.Decryptor!.Apply(rest);
        var initial = responder.InitialPayload;
        rest.CopyTo(span[initial.Length..]);
        initial.CopyTo(span);
        _decryptor = responder.Decryptor;
        _encryptor = responder.Encryptor;
        _mode = rc4 ? Mode.Rc4 : Mode.Plaintext;
        _responder = null;
        _services.Counters.Completed(rc4);
        Leave();
        return initial.Length + rest.Length;
    }

    /// <summary>Sends handshake bytes outside the peer-wire stream (the session sends nothing before the handshake).</summary>
    private async ValueTask<bool> SendControlAsync(byte[] bytes)
    {
        var batch = _services.Batches.Rent();
        try
        {
            var outbox = _services.Buffers.Rent();
            bytes.CopyTo(outbox, 0);
            batch.SetOutbox(outbox, bytes.Length);
            batch.PrepareControl();
            return await _inner.SendAsync(batch, null).ConfigureAwait(false) == SendOutcome.Sent;
        }
        finally
        {
            batch.Reset(_services.Buffers);
            _services.Batches.Return(batch);
        }
    }

    private void Leave()
    {
        if (Interlocked.Exchange(ref _admitted, 0) == 1) _services.Gate.Exit();
    }
}

/// <summary>What every <see cref="EncryptedTransport"/> of a server shares.</summary>
internal sealed record EncryptionServices(
    EncryptionPolicy Policy,
    IObfuscatedHashLookup Lookup,
    HandshakeGate Gate,
    EncryptionCounters Counters,
    SendBatchPool Batches,
    PinnedBufferPool Buffers,
    ILogger Logger)
{
    public CryptoMethods Allowed => CryptoMethods.Plaintext | CryptoMethods.Rc4;
}

internal static partial class EncryptionLog
{
    [LoggerMessage(3101, LogLevel.Debug, "Refused {Remote}: {Reason}")]
    public static partial void Refused(ILogger logger, IPEndPoint remote, string reason);
}
