using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Encryption;
using Appliance.Protocol.Metainfo;

namespace Appliance.LoadGen;

/// <summary>
/// One downloading connection (BEP 3, leecher side): handshake, interested, then keeps Q block requests
/// outstanding and walks pieces from its own starting piece, verifying each piece (its SHA-1, byte for byte
/// against the run's <see cref="VerifiedCopy"/> of pieces whose SHA-1 already matched, or block by block against
/// <see cref="BlockDigests"/> made from the content before the run).
/// One receive loop per connection; requests are written in one send after each receive.
/// A hybrid torrent (BEP 52) can be joined by either info-hash; both doors lead to the same v1 piece grid, whose pieces
/// include the BEP 47 pad files' zeros, so the v1 SHA-1 hashes verify every byte either way.
/// </summary>
public sealed class LoadPeer : IDisposable
{
    private const int HandshakeLength = 68;
    private const int RequestMessageLength = 17;
    private const int MaxMessageLength = 1 << 20 | 13;
    // BEP 52: a peer that speaks v2 sets 0x10 in the last reserved byte.
    private const byte V2ReservedBit = 0x10;

    private readonly TorrentMetainfo _torrent;
    private readonly InfoHash _infoHash;
    private readonly bool _v2;
    private readonly LoadRun _run;
    private readonly int _pipeline;
    private readonly VerifiedCopy? _copy;
    private readonly BlockDigests? _digests;
    private readonly byte[] _receive;
    private readonly byte[] _send;
    private readonly Request[] _outstanding;
    private readonly List<PieceVerifier> _active = [];
    private readonly Stack<PieceVerifier> _spare = new();
    private PeerLink? _link;
    private int _head;
    private int _count;
    private int _nextPiece;
    private int _nextBegin;
    private bool _handshaken;
    private bool _unchoked;
    // Complete mode: pieces still to start (-1 = walk the torrent forever) and when the last one was verified.
    private int _piecesToStart = -1;
    private int _piecesToFinish;
    private readonly bool _rc4;
    private Rc4? _encryptor;
    private Rc4? _decryptor;

    public LatencyHistogram Latency { get; } = new();
    public long PayloadBytes;
    public long PiecesVerified;
    public long PiecesHashed;
    public long VerifyFailures;
    public long UnexpectedBlocks;
    public long ChokesReceived;
    public bool Connected { get; private set; }
    public bool Handshaken => _handshaken;
    public bool Unchoked => _unchoked;
    public string? Failure { get; private set; }
    public long CompletedAt { get; private set; }
    public bool IsComplete => CompletedAt != 0;

    /// <summary>Download every piece once from the start piece on, then close (call before <see cref="RunAsync"/>).</summary>
    public void DownloadOnce() => _piecesToStart = _piecesToFinish = _torrent.PieceCount;

    private struct Request
    {
        public int Piece;
        public int Begin;
        public int Length;
        public long SentAt;
    }

    public LoadPeer(TorrentMetainfo torrent, LoadRun run, int pipeline, int receiveBufferBytes, int startPiece, VerifiedCopy? copy = null, bool rc4 = false,
        JoinKind join = JoinKind.V1, BlockDigests? digests = null)
    {
        _digests = digests;
        _infoHash = HandshakeHash(torrent, join);
        _v2 = join == JoinKind.V2;
        _rc4 = rc4;
        _copy = copy;
        _torrent = torrent;
        _run = run;
        _pipeline = pipeline;
        _receive = new byte[receiveBufferBytes];
        _send = new byte[HandshakeLength + 5 + pipeline * RequestMessageLength];
        _outstanding = new Request[pipeline];
        _nextPiece = startPiece;
    }

    /// <summary>Connects over TCP, or over uTP with <paramref name="transport"/> <see cref="TransportKind.Utp"/>; the peer wire is the same.</summary>
    public async Task ConnectAsync(IPEndPoint target, IPAddress? source, int soRcvBuf, CancellationToken ct, TransportKind transport = TransportKind.Tcp)
    {
        _link = await PeerLink.ConnectAsync(transport, target, source, soRcvBuf, ct).ConfigureAwait(false);
        Connected = true;
    }

    /// <summary>
    /// The info-hash to put in the handshake: the v1 one, or the v2 one cut to 20 bytes. The pieces are checked with the
    /// v1 SHA-1 hashes, so a v2-only torrent (none) is refused.
    /// </summary>
    public static InfoHash HandshakeHash(TorrentMetainfo torrent, JoinKind join)
    {
        if (!torrent.HasV1) throw new ArgumentException("a v2-only torrent has no SHA-1 piece hashes to verify with: load a v1 or hybrid torrent");
        if (join == JoinKind.V1) return torrent.InfoHash;
        return torrent.TruncatedInfoHashV2 ?? throw new ArgumentException("--join v2 needs a hybrid torrent (this one is v1 only)");
    }

    public static int WriteHandshake(Span<byte> destination, InfoHash infoHash, ReadOnlySpan<byte> peerId, bool v2 = false)
    {
        destination[0] = 19;
        "BitTorrent protocol"u8.CopyTo(destination[1..]);
        destination.Slice(20, 8).Clear();
        if (v2) destination[27] = V2ReservedBit;
        infoHash.CopyTo(destination.Slice(28, 20));
        peerId.CopyTo(destination.Slice(48, 20));
        return HandshakeLength;
    }

    public static byte[] NewPeerId()
    {
        var id = new byte[20];
        "-LG0001-"u8.CopyTo(id);
        Random.Shared.NextBytes(id.AsSpan(8));
        return id;
    }

    /// <summary>
    /// The handshakes alone (MSE/PE first with RC4): sends ours and returns once the seeder's 68-byte handshake for our
    /// torrent has arrived. Throws on any failure; the handshake-rate mode counts the failures.
    /// </summary>
    public async Task HandshakeOnlyAsync(CancellationToken ct)
    {
        var link = _link ?? throw new InvalidOperationException("not connected");
        var length = WriteHandshake(_send, _infoHash, NewPeerId(), _v2);
        if (_rc4) await EncryptedHandshakeAsync(link, _send.AsMemory(0, length), ct).ConfigureAwait(false);
        else await SendAllAsync(link, length, ct).ConfigureAwait(false);
        await ReadExactlyAsync(link, _receive.AsMemory(0, HandshakeLength), ct).ConfigureAwait(false);
        _decryptor?.Apply(_receive.AsSpan(0, HandshakeLength));
        if (_receive[0] != 19 || new InfoHash(_receive.AsSpan(28, 20)) != _infoHash)
            throw new InvalidDataException("the seeder's handshake does not name our torrent");
    }

    /// <summary>Runs until cancelled or the connection fails; never throws.</summary>
    public async Task RunAsync(bool interested, CancellationToken ct)
    {
        var link = _link ?? throw new InvalidOperationException("not connected");
        try
        {
            var length = WriteHandshake(_send, _infoHash, NewPeerId(), _v2);
            if (_rc4)
            {
                // The initial payload carries the BitTorrent handshake alone: libtorrent refuses an IA longer than the
                // 68-byte handshake ("invalid encryption handshake"), so interested follows as the first encrypted message.
                await EncryptedHandshakeAsync(link, _send.AsMemory(0, length), ct).ConfigureAwait(false);
                length = 0;
            }
            if (interested)
            {
                BinaryPrimitives.WriteInt32BigEndian(_send.AsSpan(length), 1);
                _send[length + 4] = 2;
                length += 5;
            }
            if (length > 0) await SendAllAsync(link, length, ct).ConfigureAwait(false);

            var start = 0;
            var end = 0;
            while (!ct.IsCancellationRequested)
            {
                var received = await link.ReceiveAsync(_receive.AsMemory(end), ct).ConfigureAwait(false);
                if (received == 0)
                {
                    if (IsComplete) return;
                    Failure = "closed by seeder";
                    return;
                }
                _decryptor?.Apply(_receive.AsSpan(end, received));
                end += received;
                var now = Stopwatch.GetTimestamp();
                start = Parse(start, end, now);
                if (start < 0) return;
                if (IsComplete)
                {
                    Close();
                    return;
                }

                if (start == end) start = end = 0;
                else if (_receive.Length - end < LoadOptions.BlockLength + 13 || _receive.Length - end < (_receive.Length >> 3))
                {
                    _receive.AsSpan(start, end - start).CopyTo(_receive);
                    end -= start;
                    start = 0;
                }

                if (_unchoked && interested)
                {
                    var bytes = FillRequests(now);
                    if (bytes > 0) await SendAllAsync(link, bytes, ct).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (SocketException e)
        {
            if (!ct.IsCancellationRequested) Failure = $"socket error {e.SocketErrorCode}";
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private ValueTask SendAllAsync(PeerLink link, int length, CancellationToken ct)
    {
        _encryptor?.Apply(_send.AsSpan(0, length));
        return link.SendAsync(_send.AsMemory(0, length), ct);
    }

    /// <summary>
    /// MSE/PE as the initiator, offering RC4 only: Ya, then (after Yb) req1, req2 xor req3 and the encrypted VC,
    /// crypto_provide and <paramref name="initialPayload"/> (our handshake); the answer's PadB is skipped by finding the
    /// encrypted VC. Afterwards every send is encrypted and every receive decrypted. Byte-wise reads: setup only.
    /// </summary>
    private async ValueTask EncryptedHandshakeAsync(PeerLink link, ReadOnlyMemory<byte> initialPayload, CancellationToken ct)
    {
        var privateKey = new byte[MseKeyExchange.PrivateKeyLength];
        MseKeyExchange.CreatePrivateKey(privateKey);
        var ya = new byte[MseKeyExchange.KeyLength];
        MseKeyExchange.PublicKey(privateKey, ya);
        await link.SendAsync(ya, ct).ConfigureAwait(false);
        var yb = new byte[MseKeyExchange.KeyLength];
        await ReadExactlyAsync(link, yb, ct).ConfigureAwait(false);
        var secret = new byte[MseKeyExchange.KeyLength];
        if (!MseKeyExchange.TrySharedSecret(privateKey, yb, secret)) throw new SocketException((int)SocketError.ProtocolNotSupported);

        var skey = new byte[20];
        _infoHash.CopyTo(skey);
        var step3 = new byte[40 + 8 + 4 + 2 + 2 + initialPayload.Length];
        MseKeyExchange.Hash("req1"u8, secret, default, step3.AsSpan(0, 20));
        MseKeyExchange.Req2(skey, step3.AsSpan(20, 20));
        var req3 = new byte[20];
        MseKeyExchange.Hash("req3"u8, secret, default, req3);
        for (var i = 0; i < 20; i++) step3[20 + i] ^= req3[i];
        BinaryPrimitives.WriteUInt32BigEndian(step3.AsSpan(48), (uint)CryptoMethods.Rc4);
        BinaryPrimitives.WriteUInt16BigEndian(step3.AsSpan(54), (ushort)initialPayload.Length);
        initialPayload.Span.CopyTo(step3.AsSpan(56));
        var key = new byte[20];
        MseKeyExchange.Hash("keyA"u8, secret, skey, key);
        _encryptor = new Rc4(key);
        MseKeyExchange.Hash("keyB"u8, secret, skey, key);
        var decryptor = new Rc4(key);
        _encryptor.Apply(step3.AsSpan(40));
        await link.SendAsync(step3, ct).ConfigureAwait(false);

        var vc = new byte[8];
        decryptor.Apply(vc);
        var window = new byte[8];
        var one = new byte[1];
        for (var read = 0; read < 8 || !window.AsSpan().SequenceEqual(vc); read++)
        {
            if (read > 512 + 8) throw new SocketException((int)SocketError.ProtocolNotSupported);
            await ReadExactlyAsync(link, one, ct).ConfigureAwait(false);
            window.AsSpan(1).CopyTo(window);
            window[7] = one[0];
        }
        var select = new byte[6];
        await ReadExactlyAsync(link, select, ct).ConfigureAwait(false);
        decryptor.Apply(select);
        if (BinaryPrimitives.ReadUInt32BigEndian(select) != (uint)CryptoMethods.Rc4) throw new SocketException((int)SocketError.ProtocolNotSupported);
        var padD = new byte[BinaryPrimitives.ReadUInt16BigEndian(select.AsSpan(4))];
        await ReadExactlyAsync(link, padD, ct).ConfigureAwait(false);
        decryptor.Apply(padD);
        _decryptor = decryptor;
    }

    private static async ValueTask ReadExactlyAsync(PeerLink link, Memory<byte> buffer, CancellationToken ct)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await link.ReceiveAsync(buffer[read..], ct).ConfigureAwait(false);
            if (n == 0) throw new SocketException((int)SocketError.ConnectionReset);
            read += n;
        }
    }

    // Returns the new start offset, or -1 after a protocol failure (Failure is set).
    private int Parse(int start, int end, long now)
    {
        var buffer = _receive;
        while (true)
        {
            var available = end - start;
            if (!_handshaken)
            {
                if (available < HandshakeLength) return start;
                var hs = buffer.AsSpan(start, HandshakeLength);
                if (hs[0] != 19 || !hs.Slice(1, 19).SequenceEqual("BitTorrent protocol"u8) || new InfoHash(hs.Slice(28, 20)) != _infoHash)
                    return Fail("bad handshake");
                _handshaken = true;
                _run.OnHandshaken();
                start += HandshakeLength;
                continue;
            }
            if (available < 4) return start;
            var length = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(start));
            if (length == 0)
            {
                start += 4;
                continue;
            }
            if (length < 0 || length > MaxMessageLength || length + 4 > buffer.Length) return Fail($"message of {length} bytes");
            if (available < length + 4) return start;
            var id = buffer[start + 4];
            var payload = buffer.AsSpan(start + 5, length - 1);
            start += 4 + length;
            switch (id)
            {
                case 0:
                    OnChoke();
                    break;
                case 1:
                    if (!_unchoked) _run.OnUnchoked();
                    _unchoked = true;
                    break;
                case 7:
                    if (payload.Length < 8) return Fail("short piece message");
                    OnBlock(BinaryPrimitives.ReadInt32BigEndian(payload), BinaryPrimitives.ReadInt32BigEndian(payload[4..]), payload[8..], now);
                    break;
                default:
                    // bitfield, have, have_all, port and extensions: a full seed is assumed.
                    break;
            }
        }
    }

    private int Fail(string reason)
    {
        Failure = reason;
        return -1;
    }

    private void OnBlock(int piece, int begin, ReadOnlySpan<byte> block, long now)
    {
        var slot = -1;
        for (var i = 0; i < _count; i++)
        {
            ref var r = ref _outstanding[(_head + i) % _pipeline];
            if (r.Piece == piece && r.Begin == begin && r.Length == block.Length)
            {
                slot = i;
                break;
            }
        }
        if (slot < 0)
        {
            UnexpectedBlocks++;
            return;
        }
        var request = _outstanding[(_head + slot) % _pipeline];
        if (slot == 0)
        {
            _head = (_head + 1) % _pipeline;
        }
        else
        {
            // Out-of-order answer: close the gap so the ring stays in request order.
            for (var i = slot; i < _count - 1; i++)
                _outstanding[(_head + i) % _pipeline] = _outstanding[(_head + i + 1) % _pipeline];
        }
        _count--;

        if (_run.Measuring) Latency.Record((now - request.SentAt) * 1_000_000 / Stopwatch.Frequency);
        PayloadBytes += block.Length;

        PieceVerifier? verifier = null;
        foreach (var v in _active)
        {
            if (v.Piece == piece)
            {
                verifier = v;
                break;
            }
        }
        if (verifier is null)
        {
            UnexpectedBlocks++;
            return;
        }
        switch (verifier.Feed(begin, block, _torrent.PieceHash(piece)))
        {
            case PieceVerifier.Outcome.Verified:
                PiecesVerified++;
                if (!verifier.Comparing) PiecesHashed++;
                Release(verifier);
                PieceDone(now);
                break;
            case PieceVerifier.Outcome.Failed:
                VerifyFailures++;
                Release(verifier);
                PieceDone(now);
                break;
            case PieceVerifier.Outcome.Duplicate:
                UnexpectedBlocks++;
                break;
        }
    }

    private void PieceDone(long now)
    {
        if (_piecesToStart >= 0 && --_piecesToFinish == 0) CompletedAt = now;
    }

    private void Release(PieceVerifier verifier)
    {
        _active.Remove(verifier);
        _spare.Push(verifier);
    }

    // BEP 3: a choke discards every pending request; restart the pieces that were in flight.
    private void OnChoke()
    {
        ChokesReceived++;
        _unchoked = false;
        _count = 0;
        _head = 0;
        if (_active.Count > 0)
        {
            if (_piecesToStart >= 0)
            {
                // The walk restarts at the oldest unfinished piece; pieces verified after it are fetched again.
                var lastStarted = _nextBegin == 0 ? _nextPiece - 1 : _nextPiece;
                var walked = ((lastStarted - _active[0].Piece) % _torrent.PieceCount + _torrent.PieceCount) % _torrent.PieceCount + 1;
                _piecesToStart += walked;
                _piecesToFinish += walked - _active.Count;
            }
            _nextPiece = _active[0].Piece;
            _nextBegin = 0;
            foreach (var v in _active)
            {
                v.Abandon();
                _spare.Push(v);
            }
            _active.Clear();
        }
    }

    private int FillRequests(long now)
    {
        var length = 0;
        var span = _send.AsSpan();
        while (_count < _pipeline)
        {
            var pieceSize = _torrent.PieceSize(_nextPiece);
            if (_nextBegin == 0)
            {
                if (_piecesToStart == 0) break;
                if (_piecesToStart > 0) _piecesToStart--;
                var verifier = _spare.Count > 0 ? _spare.Pop() : new PieceVerifier(_copy, _digests);
                verifier.Start(_nextPiece, pieceSize);
                _active.Add(verifier);
            }
            var blockLength = Math.Min(LoadOptions.BlockLength, pieceSize - _nextBegin);
            var m = span.Slice(length, RequestMessageLength);
            BinaryPrimitives.WriteInt32BigEndian(m, 13);
            m[4] = 6;
            BinaryPrimitives.WriteInt32BigEndian(m[5..], _nextPiece);
            BinaryPrimitives.WriteInt32BigEndian(m[9..], _nextBegin);
            BinaryPrimitives.WriteInt32BigEndian(m[13..], blockLength);
            length += RequestMessageLength;

            ref var r = ref _outstanding[(_head + _count) % _pipeline];
            r.Piece = _nextPiece;
            r.Begin = _nextBegin;
            r.Length = blockLength;
            r.SentAt = now;
            _count++;

            _nextBegin += blockLength;
            if (_nextBegin >= pieceSize)
            {
                _nextBegin = 0;
                _nextPiece = (_nextPiece + 1) % _torrent.PieceCount;
            }
        }
        return length;
    }

    public void Close()
    {
        _link?.Dispose();
    }

    public void Dispose()
    {
        Close();
        foreach (var v in _active) v.Dispose();
        foreach (var v in _spare) v.Dispose();
    }
}
