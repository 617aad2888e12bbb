using System.Buffers.Binary;

namespace Appliance.Protocol.PeerWire;

/// <summary>Writes peer-wire frames into caller-owned spans. Each method returns the bytes written; none allocates.</summary>
public static class PeerMessageWriter
{
    public const int KeepAliveLength = 4;
    public const int SimpleLength = 5;
    public const int HaveLength = 9;
    public const int PieceHeaderLength = 13;
    public const int RequestLength = 17;
    public const int ExtendedHeaderLength = 6;

    public static int WriteKeepAlive(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, 0);
        return KeepAliveLength;
    }

    /// <summary>A message with no payload: choke, unchoke, interested, not interested, have_all, have_none.</summary>
    public static int WriteSimple(Span<byte> destination, PeerMessageId id)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, 1);
        destination[4] = (byte)id;
        return SimpleLength;
    }

    public static int WriteHave(Span<byte> destination, int piece)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, 5);
        destination[4] = (byte)PeerMessageId.Have;
        BinaryPrimitives.WriteInt32BigEndian(destination[5..], piece);
        return HaveLength;
    }

    /// <summary>The 13 bytes before a block: length, id 7, index, begin. The block itself follows from wherever it lives.</summary>
    public static int WritePieceHeader(Span<byte> destination, int piece, int begin, int blockLength)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(9 + blockLength));
        destination[4] = (byte)PeerMessageId.Piece;
        BinaryPrimitives.WriteInt32BigEndian(destination[5..], piece);
        BinaryPrimitives.WriteInt32BigEndian(destination[9..], begin);
        return PieceHeaderLength;
    }

    /// <summary>request, cancel or reject_request (BEP 6) with the given block.</summary>
    public static int WriteBlockMessage(Span<byte> destination, PeerMessageId id, BlockRequest block)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, 13);
        destination[4] = (byte)id;
        block.WriteTo(destination[5..]);
        return RequestLength;
    }

    public static int BitfieldLength(int pieceCount) => SimpleLength + (pieceCount + 7) / 8;

    /// <summary>A bitfield with every piece set and the spare bits of the last byte clear (BEP 3 requires them clear).</summary>
    public static int WriteFullBitfield(Span<byte> destination, int pieceCount)
    {
        int bytes = (pieceCount + 7) / 8;
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(1 + bytes));
        destination[4] = (byte)PeerMessageId.Bitfield;
        var bits = destination.Slice(5, bytes);
        bits.Fill(0xFF);
        int spare = bytes * 8 - pieceCount;
        if (spare > 0) bits[^1] = (byte)(0xFF << spare);
        return SimpleLength + bytes;
    }

    /// <summary>The 6-byte header of a BEP 10 message: length, id 20, extended message id; the payload follows.</summary>
    public static int WriteExtendedHeader(Span<byte> destination, byte extendedId, int payloadLength)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(2 + payloadLength));
        destination[4] = (byte)PeerMessageId.Extended;
        destination[5] = extendedId;
        return ExtendedHeaderLength;
    }
}
