using System.Buffers.Binary;
using Appliance.Protocol.Identity;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Upload;

namespace Appliance.Seeding.Sessions;

/// <summary>The peer-wire state machine of a session: everything here runs under the session lock and allocates nothing.</summary>
internal sealed partial class PeerSession
{
    /// <summary>Returned with a violation when the handshake was refused (not a protocol error of an established peer).</summary>
    private const int HandshakeRefused = -2;

    private int ProcessLocked(ReadOnlySpan<byte> data, out string? violation, out bool wake)
    {
        violation = null;
        wake = false;
        int position = 0;
        if (_torrent is null)
        {
            position = ProcessHandshake(data, out violation, out wake);
            if (position <= 0) return position;
        }

        var options = _services.Options;
        while (position < data.Length)
        {
            var rest = data[position..];
            if (_skip > 0)
            {
                int n = (int)Math.Min(_skip, rest.Length);
                _skip -= n;
                position += n;
                continue;
            }
            var status = PeerMessageReader.TryReadHeader(rest, options.MaxMessageLength, out var header);
            if (status == FrameStatus.NeedMoreData) break;
            if (status == FrameStatus.TooLong)
            {
                violation = $"message of {BinaryPrimitives.ReadUInt32BigEndian(rest)} bytes exceeds the limit of {options.MaxMessageLength}";
                return -1;
            }
            if (header.IsKeepAlive)
            {
                position += PeerMessageReader.LengthPrefix;
                continue;
            }
            if (header.Id == PeerMessageId.Piece)
            {
                violation = "sent a piece we never asked for";
                return -1;
            }
            if (header.FrameLength > rest.Length)
            {
                // Messages whose payload we do not need are skipped as they stream by; the rest wait to be whole.
                if (NeedsPayload(header) && header.FrameLength <= _services.SmallBuffers.BufferSize) break;
                if (header.Id == PeerMessageId.Bitfield && !ValidBitfieldLength(header, out violation)) return -1;
                _skip = header.FrameLength - rest.Length;
                position = data.Length;
                break;
            }
            var payload = rest.Slice(PeerMessageHeader.PayloadOffset, header.PayloadLength);
            if (!Handle(header, payload, ref wake, out violation)) return -1;
            position += header.FrameLength;
        }
        return position;
    }

    private static bool NeedsPayload(PeerMessageHeader header) =>
        header.Id is (>= PeerMessageId.Choke and <= PeerMessageId.Port and not PeerMessageId.Bitfield)
            or (>= PeerMessageId.Suggest and <= PeerMessageId.AllowedFast) or PeerMessageId.Extended or PeerMessageId.HashRequest;

    private bool ValidBitfieldLength(PeerMessageHeader header, out string? violation)
    {
        int expected = (_torrent!.Metainfo.PieceCount + 7) / 8;
        violation = header.PayloadLength == expected ? null : $"bitfield of {header.PayloadLength} bytes, expected {expected}";
        return violation is null;
    }

    private int ProcessHandshake(ReadOnlySpan<byte> data, out string? violation, out bool wake)
    {
        violation = null;
        wake = false;
        var status = Handshake.TryParse(data, out var handshake);
        if (status == HandshakeStatus.BadProtocol)
        {
            _services.Counters.HandshakeInvalid();
            violation = "not a BitTorrent handshake";
            return HandshakeRefused;
        }
        if (status == HandshakeStatus.NeedMoreData) return 0;
        if (!_services.Registry.TryGet(handshake.InfoHash, out var torrent))
        {
            if (!_heldOnce && _services.Host.TryHoldHandshake(handshake.InfoHash) is { } loaded)
            {
                _held = loaded; // the receive loop waits for the torrent, then offers the same bytes again
                _heldOnce = true;
                return 0;
            }
            _services.Counters.HandshakeUnknownTorrent();
            violation = "unknown info-hash " + handshake.InfoHash.ToHex();
            return HandshakeRefused;
        }
        if (torrent.Store.IsFaulted)
        {
            violation = "torrent's storage is faulted";
            return HandshakeRefused;
        }
        _fast = handshake.Reserved.SupportsFast;
        _extensions = handshake.Reserved.SupportsExtensionProtocol;

        var metainfo = torrent.Metainfo;
        int needed = Handshake.Length
            + (_extensions ? PeerMessageWriter.ExtendedHeaderLength + 128 : 0)
            + (_fast ? PeerMessageWriter.SimpleLength : PeerMessageWriter.BitfieldLength(metainfo.PieceCount));
        if (!TryAppend(needed, out var span))
        {
            violation = "no buffer for the handshake";
            return HandshakeRefused;
        }
        int length = 0;
        // Answer with the hash the peer came by: a hybrid torrent's v1 or truncated v2 hash (BEP 52). The v2 bit says we
        // answer hash requests; libtorrent only reads it on connections it accepts, so a client that dialed us by the v1
        // hash stays on v1.
        new Handshake(metainfo.HasV2 ? ReservedBits.OursWithV2 : ReservedBits.Ours, handshake.InfoHash, _services.PeerId).WriteTo(span);
        length += Handshake.Length;
        if (_extensions)
        {
            var body = span[(length + PeerMessageWriter.ExtendedHeaderLength)..];
            int bodyLength = ExtensionHandshake.Write(body, metainfo.InfoBytes.Length, _services.Options.MaxOutstandingRequests, ClientIdentity.ExtensionVersion);
            length += PeerMessageWriter.WriteExtendedHeader(span[length..], ExtensionHandshake.HandshakeId, bodyLength) + bodyLength;
        }
        length += _fast
            ? PeerMessageWriter.WriteSimple(span[length..], PeerMessageId.HaveAll)
            : PeerMessageWriter.WriteFullBitfield(span[length..], metainfo.PieceCount);
        _outboxLength -= needed - length;

        _joinedByV2 = metainfo.HasV2 && handshake.InfoHash == metainfo.TruncatedInfoHashV2;
        Volatile.Write(ref _torrent, torrent);
        torrent.PeerJoined();
        _services.Counters.HandshakeAccepted();
        _services.Counters.PeerJoined(_joinedByV2);
        wake = true;
        return Handshake.Length;
    }

    private bool Handle(PeerMessageHeader header, ReadOnlySpan<byte> payload, ref bool wake, out string? violation)
    {
        violation = null;
        switch (header.Id)
        {
            case PeerMessageId.Request:
                return HandleRequest(payload, ref wake, out violation);
            case PeerMessageId.Cancel:
                if (!BlockRequest.TryParse(payload, out var cancelled)) return Fail("malformed cancel", out violation);
                if (_queue.Remove(cancelled))
                {
                    _queuedUncounted--;
                    // BEP 6: with the fast extension every request gets a piece or a reject, a cancelled one too.
                    if (_fast) wake |= AppendBlockMessage(PeerMessageId.RejectRequest, cancelled);
                }
                return true;
            case PeerMessageId.Interested:
                if (payload.Length != 0) return Fail("malformed interested", out violation);
                if (!_peerInterested)
                {
                    _peerInterested = true;
                    if (_amChoking) wake |= TryUnchokeLocked();
                }
                return true;
            case PeerMessageId.NotInterested:
                if (payload.Length != 0) return Fail("malformed not interested", out violation);
                _peerInterested = false;
                // With limited slots, free this one now and give it to someone who waits.
                if (!_amChoking && _services.Slots.IsLimited)
                {
                    // The slot is free once choked, even when a full outbox had no room to say so.
                    wake |= ChokeLocked();
                    _services.Slots.HolderLostInterest();
                }
                return true;
            case PeerMessageId.Choke or PeerMessageId.Unchoke or PeerMessageId.HaveAll or PeerMessageId.HaveNone:
                return payload.Length == 0 || Fail($"malformed {header.Id}", out violation);
            case PeerMessageId.Have:
                if (payload.Length != 4) return Fail("malformed have", out violation);
                return (uint)BinaryPrimitives.ReadInt32BigEndian(payload) < (uint)_torrent!.Metainfo.PieceCount
                    || Fail("have for a piece beyond the torrent", out violation);
            case PeerMessageId.Bitfield:
                return ValidBitfieldLength(header, out violation);
            case PeerMessageId.Port:
                return payload.Length == 2 || Fail("malformed port", out violation);
            case PeerMessageId.Suggest or PeerMessageId.AllowedFast:
                return payload.Length == 4 || Fail($"malformed {header.Id}", out violation);
            case PeerMessageId.RejectRequest:
                return payload.Length == BlockRequest.PayloadLength || Fail("malformed reject", out violation);
            case PeerMessageId.Extended:
                if (payload.Length == 0) return Fail("empty extended message", out violation);
                HandleExtended(payload[0], payload[1..], ref wake);
                return true;
            case PeerMessageId.HashRequest:
                return HandleHashRequest(payload, ref wake, out violation);
            default:
                return true; // unknown ids are skipped by length (BEP 3: ignore what you do not understand)
        }
    }

    private bool HandleRequest(ReadOnlySpan<byte> payload, ref bool wake, out string? violation)
    {
        violation = null;
        if (!BlockRequest.TryParse(payload, out var block)) return Fail("malformed request", out violation);
        var metainfo = _torrent!.Metainfo;
        if ((uint)block.Piece >= (uint)metainfo.PieceCount) return Fail($"request for piece {block.Piece} of {metainfo.PieceCount}", out violation);
        if (block.Length == 0 || (long)block.Begin + block.Length > metainfo.PieceSize(block.Piece))
            return Fail($"request {block.Begin}+{block.Length} beyond the end of piece {block.Piece}", out violation);

        RejectReason reason;
        if (block.Length > _services.Options.MaxRequestLength) reason = RejectReason.TooLong;
        else if (_amChoking) reason = RejectReason.Choked;
        else if (IsDraining) reason = RejectReason.ShuttingDown;
        else if (_queue.TryEnqueue(new QueuedRequest(block, _lastRequestAt = _services.Time.GetTimestamp())))
        {
            _queuedUncounted++;
            wake = true;
            return true;
        }
        else reason = RejectReason.QueueFull;

        _services.Counters.Reject(reason);
        if (_fast) wake |= AppendBlockMessage(PeerMessageId.RejectRequest, block);
        return true;
    }

    private void HandleExtended(byte id, ReadOnlySpan<byte> body, ref bool wake)
    {
        if (id == ExtensionHandshake.HandshakeId)
        {
            if (ExtensionHandshake.TryParse(body, out byte metadataId)) _peerMetadataId = metadataId;
            return;
        }
        if (id != ExtensionHandshake.OurMetadataId || _peerMetadataId == 0) return;
        if (!MetadataMessage.TryParse(body, out int type, out int piece) || type != MetadataMessage.Request) return;

        var info = _torrent!.Metainfo.InfoBytes;
        if (piece >= MetadataMessage.PieceCount(info.Length))
        {
            wake |= AppendMetadataReject(piece);
            return;
        }
        int offset = piece * MetadataMessage.PieceSize;
        int size = Math.Min(MetadataMessage.PieceSize, info.Length - offset);
        int needed = PeerMessageWriter.ExtendedHeaderLength + MetadataMessage.MaxHeaderLength + size;
        if (!TryAppend(needed, out var span))
        {
            _services.Counters.Reject(RejectReason.MetadataUnavailable);
            return;
        }
        var body2 = span[PeerMessageWriter.ExtendedHeaderLength..];
        int dictionary = MetadataMessage.WriteDataHeader(body2, piece, info.Length);
        info.Span.Slice(offset, size).CopyTo(body2[dictionary..]);
        int written = PeerMessageWriter.WriteExtendedHeader(span, _peerMetadataId, dictionary + size) + dictionary + size;
        _outboxLength -= needed - written;
        _services.Counters.MetadataPieceServed();
        wake = true;
    }

    private bool AppendMetadataReject(int piece)
    {
        const int needed = PeerMessageWriter.ExtendedHeaderLength + MetadataMessage.MaxHeaderLength;
        if (!TryAppend(needed, out var span)) return false;
        int bodyLength = MetadataMessage.WriteReject(span[PeerMessageWriter.ExtendedHeaderLength..], piece);
        int written = PeerMessageWriter.WriteExtendedHeader(span, _peerMetadataId, bodyLength) + bodyLength;
        _outboxLength -= needed - written;
        return true;
    }

    /// <summary>
    /// Unchokes this peer if the ledger has a slot for it (claimed, never assumed: peers unchoked on interest, by a round
    /// or by a refill race for the same slots). False when no slot was free or the unchoke found no room in the outbox.
    /// </summary>
    private bool TryUnchokeLocked()
    {
        if (!_services.Slots.TryClaim()) return false;
        if (!TryAppend(PeerMessageWriter.SimpleLength, out var span))
        {
            _services.Slots.Release();
            return false;
        }
        PeerMessageWriter.WriteSimple(span, PeerMessageId.Unchoke);
        _amChoking = false;
        _lastUnchokedAt = _services.Time.GetTimestamp();
        return true;
    }

    /// <summary>
    /// Chokes even when the message finds no room (a peer that does not read filled its outbox): the slot and the queue
    /// are released either way. False when the choke could not be queued.
    /// </summary>
    private bool ChokeLocked()
    {
        bool queued = TryAppend(PeerMessageWriter.SimpleLength, out var span);
        if (queued) PeerMessageWriter.WriteSimple(span, PeerMessageId.Choke);
        _amChoking = true;
        _services.Slots.Release();
        // Choking drops the queue; BEP 6 peers are told which requests will not be served.
        int dropped = _queue.Count;
        while (_queue.Count > 0)
        {
            var request = _queue.Dequeue();
            _services.Counters.Reject(RejectReason.Choked);
            if (_fast) AppendBlockMessage(PeerMessageId.RejectRequest, request.Block);
        }
        // Requests this receive queued and the choke dropped were never in the gauge.
        int change = _queuedUncounted - dropped;
        _queuedUncounted = 0;
        if (change != 0) _services.Counters.QueueDepthChanged(change);
        return queued;
    }

    private bool AppendBlockMessage(PeerMessageId id, BlockRequest block)
    {
        if (!TryAppend(PeerMessageWriter.RequestLength, out var span)) return false;
        PeerMessageWriter.WriteBlockMessage(span, id, block);
        return true;
    }

    /// <summary>
    /// Reserves <paramref name="length"/> bytes at the end of the outbox (rented on demand, so idle sessions own none).
    /// False when a peer that does not read has let it fill up: the message is dropped.
    /// </summary>
    private bool TryAppend(int length, out Span<byte> span)
    {
        var pool = _services.SmallBuffers;
        if (_outbox is null)
        {
            // A bitfield of a torrent with more than ~260k pieces is the only thing bigger than a pooled buffer.
            _outbox = length <= pool.BufferSize ? pool.Rent() : GC.AllocateUninitializedArray<byte>(length, pinned: true);
            _outboxLength = 0;
        }
        if (_outbox.Length - _outboxLength < length)
        {
            span = default;
            return false;
        }
        span = _outbox.AsSpan(_outboxLength, length);
        _outboxLength += length;
        return true;
    }

    private static bool Written(int length) => length > 0;

    private static bool Fail(string reason, out string? violation)
    {
        violation = reason;
        return false;
    }
}
