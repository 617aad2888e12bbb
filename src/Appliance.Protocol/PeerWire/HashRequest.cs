using System.Buffers.Binary;

namespace Appliance.Protocol.PeerWire;

/// <summary>
/// BEP 52 <c>hash request</c> (21): a file's pieces root, then base layer (0 = 16 KiB leaves), index of the first hash
/// in that layer, count, and how many proof layers of uncle hashes to add. <c>hashes</c> (22) and <c>hash reject</c> (23)
/// repeat the same 48 bytes, the first followed by the hashes.
/// </summary>
public readonly struct HashRequest
{
    public const int PayloadLength = 48;
    public const int RootLength = 32;
    public const int RejectMessageLength = PeerMessageHeader.PayloadOffset + PayloadLength;

    private readonly ulong _r0, _r1, _r2, _r3;

    private HashRequest(ReadOnlySpan<byte> payload)
    {
        _r0 = BinaryPrimitives.ReadUInt64BigEndian(payload);
        _r1 = BinaryPrimitives.ReadUInt64BigEndian(payload[8..]);
        _r2 = BinaryPrimitives.ReadUInt64BigEndian(payload[16..]);
        _r3 = BinaryPrimitives.ReadUInt64BigEndian(payload[24..]);
        BaseLayer = BinaryPrimitives.ReadInt32BigEndian(payload[32..]);
        Index = BinaryPrimitives.ReadInt32BigEndian(payload[36..]);
        Count = BinaryPrimitives.ReadInt32BigEndian(payload[40..]);
        ProofLayers = BinaryPrimitives.ReadInt32BigEndian(payload[44..]);
    }

    /// <summary>The pieces root as a value (for lookups without allocating).</summary>
    public (ulong, ulong, ulong, ulong) Root => (_r0, _r1, _r2, _r3);

    public int BaseLayer { get; }
    public int Index { get; }
    public int Count { get; }
    public int ProofLayers { get; }

    public static bool TryParse(ReadOnlySpan<byte> payload, out HashRequest request)
    {
        request = default;
        if (payload.Length != PayloadLength) return false;
        request = new HashRequest(payload);
        return true;
    }

    public static (ulong, ulong, ulong, ulong) RootKey(ReadOnlySpan<byte> root) =>
        (BinaryPrimitives.ReadUInt64BigEndian(root), BinaryPrimitives.ReadUInt64BigEndian(root[8..]),
         BinaryPrimitives.ReadUInt64BigEndian(root[16..]), BinaryPrimitives.ReadUInt64BigEndian(root[24..]));

    /// <summary>Length prefix, id and the 48 request bytes; for <see cref="PeerMessageId.Hashes"/> the caller writes <paramref name="hashBytes"/> after.</summary>
    public int WriteHeader(Span<byte> destination, PeerMessageId id, int hashBytes)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, 1 + PayloadLength + hashBytes);
        destination[4] = (byte)id;
        var payload = destination.Slice(PeerMessageHeader.PayloadOffset, PayloadLength);
        BinaryPrimitives.WriteUInt64BigEndian(payload, _r0);
        BinaryPrimitives.WriteUInt64BigEndian(payload[8..], _r1);
        BinaryPrimitives.WriteUInt64BigEndian(payload[16..], _r2);
        BinaryPrimitives.WriteUInt64BigEndian(payload[24..], _r3);
        BinaryPrimitives.WriteInt32BigEndian(payload[32..], BaseLayer);
        BinaryPrimitives.WriteInt32BigEndian(payload[36..], Index);
        BinaryPrimitives.WriteInt32BigEndian(payload[40..], Count);
        BinaryPrimitives.WriteInt32BigEndian(payload[44..], ProofLayers);
        return RejectMessageLength;
    }

    /// <summary>Writes the request as it would appear on the wire (for clients and tests).</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> root, int baseLayer, int index, int count, int proofLayers)
    {
        Span<byte> payload = stackalloc byte[PayloadLength];
        root.CopyTo(payload);
        BinaryPrimitives.WriteInt32BigEndian(payload[32..], baseLayer);
        BinaryPrimitives.WriteInt32BigEndian(payload[36..], index);
        BinaryPrimitives.WriteInt32BigEndian(payload[40..], count);
        BinaryPrimitives.WriteInt32BigEndian(payload[44..], proofLayers);
        return new HashRequest(payload).WriteHeader(destination, PeerMessageId.HashRequest, 0);
    }
}
