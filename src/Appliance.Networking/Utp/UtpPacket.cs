using System.Buffers.Binary;

namespace Appliance.Networking.Utp;

/// <summary>BEP 29 packet types (the high nibble of the first byte).</summary>
public enum UtpPacketType : byte
{
    Data = 0,
    Fin = 1,
    State = 2,
    Reset = 3,
    Syn = 4,
}

/// <summary>
/// A uTP header (BEP 29, version 1): 20 bytes, big-endian, then a chain of extensions (type, length, bytes) and the
/// payload. Parsing is pure: a span in, the header and where the payload starts out, the selective ACK (extension 1)
/// located when present. Unknown extensions are skipped by length.
/// </summary>
public readonly record struct UtpHeader(
    UtpPacketType Type, ushort ConnectionId, uint TimestampMicros, uint TimestampDifferenceMicros, uint WindowSize, ushort SequenceNumber, ushort AckNumber)
{
    public const int Length = 20;
    public const byte Version = 1;
    public const byte SelectiveAckExtension = 1;

    /// <summary>Extensions are short (selective ACK bitmasks, the 8-byte extension bits); more than this is garbage.</summary>
    public const int MaxExtensionLength = 64;

    /// <summary>
    /// Parses <paramref name="datagram"/>. False for anything not a well-formed version-1 packet. <paramref name="sack"/>
    /// is the selective ACK bitmask (empty when absent); the payload starts at <paramref name="payloadOffset"/>.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out UtpHeader header, out int payloadOffset, out ReadOnlySpan<byte> sack)
    {
        header = default;
        payloadOffset = 0;
        sack = default;
        if (datagram.Length < Length) return false;
        byte typeVersion = datagram[0];
        if ((typeVersion & 0x0F) != Version || typeVersion >> 4 > (int)UtpPacketType.Syn) return false;
        byte extension = datagram[1];
        int position = Length;
        while (extension != 0)
        {
            if (datagram.Length - position < 2) return false;
            byte next = datagram[position];
            int length = datagram[position + 1];
            position += 2;
            if (length > MaxExtensionLength || datagram.Length - position < length) return false;
            if (extension == SelectiveAckExtension)
            {
                // BEP 29 asks for a multiple of 4 bytes, but libtorrent sends as few bytes as its bitmask needs.
                if (length == 0) return false;
                sack = datagram.Slice(position, length);
            }
            position += length;
            extension = next;
        }
        header = new UtpHeader(
            (UtpPacketType)(typeVersion >> 4),
            BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[12..]),
            BinaryPrimitives.ReadUInt16BigEndian(datagram[16..]),
            BinaryPrimitives.ReadUInt16BigEndian(datagram[18..]));
        payloadOffset = position;
        return true;
    }

    /// <summary>True when <paramref name="datagram"/> looks like uTP at a glance (version 1, a known type): for demultiplexing.</summary>
    public static bool LooksLikeUtp(ReadOnlySpan<byte> datagram) =>
        datagram.Length >= Length && (datagram[0] & 0x0F) == Version && datagram[0] >> 4 <= (int)UtpPacketType.Syn;

    /// <summary>Writes the 20-byte header; <paramref name="extension"/> is the type of the first extension (0 for none).</summary>
    public void WriteTo(Span<byte> destination, byte extension = 0)
    {
        destination[0] = (byte)((byte)Type << 4 | Version);
        destination[1] = extension;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], ConnectionId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], TimestampMicros);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], TimestampDifferenceMicros);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], WindowSize);
        BinaryPrimitives.WriteUInt16BigEndian(destination[16..], SequenceNumber);
        BinaryPrimitives.WriteUInt16BigEndian(destination[18..], AckNumber);
    }

    /// <summary>Whether selective-ACK bit <paramref name="index"/> is set: it acknowledges sequence number ack_nr + 2 + index.</summary>
    public static bool SackBit(ReadOnlySpan<byte> sack, int index) => (sack[index >> 3] & (1 << (index & 7))) != 0;
}

/// <summary>16-bit sequence-number arithmetic with wrap-around.</summary>
public static class UtpSequence
{
    /// <summary>Signed distance from <paramref name="from"/> to <paramref name="to"/> (positive when <paramref name="to"/> is later).</summary>
    public static int Distance(ushort from, ushort to) => (short)(ushort)(to - from);
}
