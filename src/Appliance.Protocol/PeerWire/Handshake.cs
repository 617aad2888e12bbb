using Appliance.Protocol.Metainfo;

namespace Appliance.Protocol.PeerWire;

/// <summary>The 68-byte BEP 3 handshake: 19, "BitTorrent protocol", 8 reserved bytes, info-hash, peer id.</summary>
public readonly struct Handshake(ReservedBits reserved, InfoHash infoHash, PeerId peerId)
{
    public const int Length = 68;
    public const int InfoHashOffset = 28;
    public const int PeerIdOffset = 48;

    public ReservedBits Reserved { get; } = reserved;
    public InfoHash InfoHash { get; } = infoHash;
    public PeerId PeerId { get; } = peerId;

    private static ReadOnlySpan<byte> Protocol => "\u0013BitTorrent protocol"u8;

    /// <summary>True when <paramref name="prefix"/> (any length up to 20) agrees with the protocol header so far.</summary>
    public static bool HasValidPrefix(ReadOnlySpan<byte> prefix)
    {
        int n = Math.Min(prefix.Length, Protocol.Length);
        return prefix[..n].SequenceEqual(Protocol[..n]);
    }

    /// <summary>Parses the first 48 bytes (header and info-hash): a seeder answers before the peer id arrives.</summary>
    public static HandshakeStatus TryParseHeader(ReadOnlySpan<byte> buffer, out ReservedBits reserved, out InfoHash infoHash)
    {
        reserved = default;
        infoHash = default;
        if (!HasValidPrefix(buffer)) return HandshakeStatus.BadProtocol;
        if (buffer.Length < PeerIdOffset) return HandshakeStatus.NeedMoreData;
        reserved = new ReservedBits(buffer.Slice(20, 8));
        infoHash = new InfoHash(buffer.Slice(InfoHashOffset, InfoHash.Length));
        return HandshakeStatus.Complete;
    }

    public static HandshakeStatus TryParse(ReadOnlySpan<byte> buffer, out Handshake handshake)
    {
        handshake = default;
        var status = TryParseHeader(buffer, out var reserved, out var infoHash);
        if (status != HandshakeStatus.Complete) return status;
        if (buffer.Length < Length) return HandshakeStatus.NeedMoreData;
        handshake = new Handshake(reserved, infoHash, new PeerId(buffer.Slice(PeerIdOffset, PeerId.Length)));
        return HandshakeStatus.Complete;
    }

    public void WriteTo(Span<byte> destination)
    {
        Protocol.CopyTo(destination);
        Reserved.WriteTo(destination.Slice(20, 8));
        InfoHash.CopyTo(destination.Slice(InfoHashOffset, InfoHash.Length));
        PeerId.WriteTo(destination.Slice(PeerIdOffset, PeerId.Length));
    }
}

public enum HandshakeStatus : byte
{
    NeedMoreData,
    Complete,
    BadProtocol,
}

/// <summary>The 8 reserved handshake bytes as a big-endian bit set. We set only what we implement.</summary>
public readonly record struct ReservedBits(ulong Value)
{
    public ReservedBits(ReadOnlySpan<byte> bytes) : this(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes)) { }

    // BEP 10: byte 5, 0x10. BEP 6: byte 7, 0x04. BEP 52: byte 7, 0x10.
    private const ulong ExtensionProtocolBit = 0x10UL << 16;
    private const ulong FastBit = 0x04UL;
    private const ulong V2Bit = 0x10UL;

    public static ReservedBits Ours { get; } = new(ExtensionProtocolBit | FastBit);

    /// <summary>Ours for a torrent with v2 metadata (v2 or hybrid): we answer BEP 52 hash requests for it.</summary>
    public static ReservedBits OursWithV2 { get; } = new(ExtensionProtocolBit | FastBit | V2Bit);

    public bool SupportsExtensionProtocol => (Value & ExtensionProtocolBit) != 0;
    public bool SupportsFast => (Value & FastBit) != 0;
    public bool SupportsV2 => (Value & V2Bit) != 0;

    public void WriteTo(Span<byte> destination) => System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(destination, Value);
}

/// <summary>A 20-byte peer id; ours comes from <see cref="Identity.ClientIdentity.NewPeerId"/>.</summary>
public readonly struct PeerId : IEquatable<PeerId>
{
    public const int Length = 20;
    private readonly InfoHash _bytes; // same shape: 20 bytes held in registers

    public PeerId(ReadOnlySpan<byte> bytes) => _bytes = new InfoHash(bytes);

    public void WriteTo(Span<byte> destination) => _bytes.CopyTo(destination);

    public override string ToString()
    {
        Span<byte> id = stackalloc byte[Length];
        WriteTo(id);
        var chars = new char[Length];
        for (int i = 0; i < Length; i++) chars[i] = id[i] is >= 0x20 and < 0x7F ? (char)id[i] : '.';
        return new string(chars);
    }

    public bool Equals(PeerId other) => _bytes == other._bytes;
    public override bool Equals(object? obj) => obj is PeerId other && Equals(other);
    public override int GetHashCode() => _bytes.GetHashCode();
    public static bool operator ==(PeerId left, PeerId right) => left.Equals(right);
    public static bool operator !=(PeerId left, PeerId right) => !left.Equals(right);
}
