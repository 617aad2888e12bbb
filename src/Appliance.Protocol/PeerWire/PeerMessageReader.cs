using System.Buffers.Binary;

namespace Appliance.Protocol.PeerWire;

/// <summary>
/// Frames peer-wire messages straight from a receive buffer: <c>length(4, big-endian) id(1) payload</c>.
/// Pure and allocation-free; the caller decides what to do with a frame whose payload is not all there yet
/// (wait for it, or skip it by length).
/// </summary>
public static class PeerMessageReader
{
    public const int LengthPrefix = 4;

    /// <summary>Reads a message header. <paramref name="maxLength"/> bounds the length prefix (id + payload).</summary>
    public static FrameStatus TryReadHeader(ReadOnlySpan<byte> buffer, int maxLength, out PeerMessageHeader header)
    {
        header = default;
        if (buffer.Length < LengthPrefix) return FrameStatus.NeedMoreData;
        uint length = BinaryPrimitives.ReadUInt32BigEndian(buffer);
        if (length == 0)
        {
            header = new PeerMessageHeader(0, 0);
            return FrameStatus.Complete;
        }
        if (length > (uint)maxLength) return FrameStatus.TooLong;
        if (buffer.Length < LengthPrefix + 1) return FrameStatus.NeedMoreData;
        header = new PeerMessageHeader((int)length, (PeerMessageId)buffer[LengthPrefix]);
        return FrameStatus.Complete;
    }
}

public enum FrameStatus : byte
{
    NeedMoreData,
    Complete,
    TooLong,
}

/// <summary>One frame's header. <see cref="Length"/> counts the id and payload (0 is a keep-alive).</summary>
public readonly record struct PeerMessageHeader(int Length, PeerMessageId Id)
{
    public bool IsKeepAlive => Length == 0;

    public int PayloadLength => Length == 0 ? 0 : Length - 1;

    /// <summary>Bytes the whole frame occupies in the stream.</summary>
    public int FrameLength => PeerMessageReader.LengthPrefix + Length;

    /// <summary>Where the payload starts in the frame.</summary>
    public const int PayloadOffset = PeerMessageReader.LengthPrefix + 1;
}

/// <summary>The payload of request, cancel and reject_request: piece index, offset in the piece, length.</summary>
public readonly record struct BlockRequest(int Piece, int Begin, int Length)
{
    public const int PayloadLength = 12;

    /// <summary>False when the payload is not exactly 12 bytes or a field is negative as a signed 32-bit value.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out BlockRequest request)
    {
        request = default;
        if (payload.Length != PayloadLength) return false;
        int piece = BinaryPrimitives.ReadInt32BigEndian(payload);
        int begin = BinaryPrimitives.ReadInt32BigEndian(payload[4..]);
        int length = BinaryPrimitives.ReadInt32BigEndian(payload[8..]);
        if ((piece | begin | length) < 0) return false;
        request = new BlockRequest(piece, begin, length);
        return true;
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, Piece);
        BinaryPrimitives.WriteInt32BigEndian(destination[4..], Begin);
        BinaryPrimitives.WriteInt32BigEndian(destination[8..], Length);
    }
}
