using Appliance.Protocol.Bencode;

namespace Appliance.Protocol.PeerWire;

/// <summary>
/// BEP 10 extension handshake (extended message id 0). We offer ut_metadata (BEP 9) and say we are upload-only (BEP 21).
/// </summary>
public static class ExtensionHandshake
{
    public const byte HandshakeId = 0;

    /// <summary>The id under which we accept ut_metadata messages from the peer.</summary>
    public const byte OurMetadataId = 1;

    /// <summary>Encodes our handshake dictionary; returns the bytes written (under 128 for any sane client name).</summary>
    public static int Write(Span<byte> destination, int metadataSize, int requestQueue, ReadOnlySpan<byte> clientName)
    {
        var writer = new BencodeWriter(destination);
        writer.WriteDictionaryStart();
        writer.WriteKey("m"u8);
        writer.WriteDictionaryStart();
        writer.WriteKey("ut_metadata"u8);
        writer.WriteInteger(OurMetadataId);
        writer.WriteEnd();
        writer.WriteKey("metadata_size"u8);
        writer.WriteInteger(metadataSize);
        writer.WriteKey("reqq"u8);
        writer.WriteInteger(requestQueue);
        writer.WriteKey("upload_only"u8);
        writer.WriteInteger(1);
        writer.WriteKey("v"u8);
        writer.WriteString(clientName);
        writer.WriteEnd();
        return writer.BytesWritten;
    }

    /// <summary>
    /// Reads the peer's handshake: the id it wants ut_metadata messages sent under (0 = not supported).
    /// Skips keys it does not know and takes keys in any order; false when it is not bencode or not a dictionary, and
    /// then the peer simply gets no metadata from us.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out byte peerMetadataId)
    {
        if (TryRead(payload, out peerMetadataId)) return true;
        peerMetadataId = 0;
        return false;
    }

    private static bool TryRead(ReadOnlySpan<byte> payload, out byte peerMetadataId)
    {
        peerMetadataId = 0;
        var reader = new BencodeReader(payload, BencodeLimits.Datagram with { MaxStringLength = 16 * 1024, MaxTokens = 4096 }, allowTrailingData: true);
        if (!reader.Read() || reader.TokenType != BencodeTokenType.DictionaryStart) return false;
        while (reader.Read())
        {
            if (reader.TokenType == BencodeTokenType.End) return true;
            if (!reader.IsKey) return false;
            if (reader.ValueSpan.SequenceEqual("m"u8))
            {
                if (!reader.Read()) return false;
                if (reader.TokenType != BencodeTokenType.DictionaryStart) { if (!reader.Skip()) return false; continue; }
                while (reader.Read() && reader.TokenType != BencodeTokenType.End)
                {
                    bool isMetadata = reader.ValueSpan.SequenceEqual("ut_metadata"u8);
                    if (!reader.Read()) return false;
                    if (isMetadata && reader.TokenType == BencodeTokenType.Integer && reader.Integer is > 0 and <= 255)
                        peerMetadataId = (byte)reader.Integer;
                    else if (!reader.Skip()) return false;
                }
                if (reader.Error.IsError) return false;
            }
            else if (!reader.ReadAndSkipValue())
            {
                return false;
            }
        }
        return false;
    }
}

/// <summary>BEP 9 ut_metadata messages: request (0), data (1), reject (2). The info dictionary goes out in 16 KiB pieces.</summary>
public static class MetadataMessage
{
    public const int PieceSize = 16 * 1024;
    public const int Request = 0;
    public const int Data = 1;
    public const int Reject = 2;

    /// <summary>Most bytes a data or reject dictionary header needs.</summary>
    public const int MaxHeaderLength = 64;

    public static int PieceCount(int metadataSize) => (metadataSize + PieceSize - 1) / PieceSize;

    /// <summary>Reads the dictionary at the start of a ut_metadata payload (data messages carry bytes after it).</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out int messageType, out int piece)
    {
        messageType = -1;
        piece = -1;
        var reader = new BencodeReader(payload, BencodeLimits.Datagram, allowTrailingData: true);
        if (!reader.Read() || reader.TokenType != BencodeTokenType.DictionaryStart) return false;
        while (reader.Read())
        {
            if (reader.TokenType == BencodeTokenType.End) return messageType >= 0 && piece >= 0;
            bool isType = reader.ValueSpan.SequenceEqual("msg_type"u8);
            bool isPiece = reader.ValueSpan.SequenceEqual("piece"u8);
            if (!reader.Read()) return false;
            if (reader.TokenType == BencodeTokenType.Integer && reader.Integer is >= 0 and <= int.MaxValue)
            {
                if (isType) messageType = (int)reader.Integer;
                else if (isPiece) piece = (int)reader.Integer;
            }
            else if (!reader.Skip())
            {
                return false;
            }
        }
        return false;
    }

    /// <summary>Writes the dictionary of a data message; the piece's bytes follow it in the same extended message.</summary>
    public static int WriteDataHeader(Span<byte> destination, int piece, int totalSize)
    {
        var writer = new BencodeWriter(destination);
        writer.WriteDictionaryStart();
        writer.WriteKey("msg_type"u8);
        writer.WriteInteger(Data);
        writer.WriteKey("piece"u8);
        writer.WriteInteger(piece);
        writer.WriteKey("total_size"u8);
        writer.WriteInteger(totalSize);
        writer.WriteEnd();
        return writer.BytesWritten;
    }

    public static int WriteReject(Span<byte> destination, int piece)
    {
        var writer = new BencodeWriter(destination);
        writer.WriteDictionaryStart();
        writer.WriteKey("msg_type"u8);
        writer.WriteInteger(Reject);
        writer.WriteKey("piece"u8);
        writer.WriteInteger(piece);
        writer.WriteEnd();
        return writer.BytesWritten;
    }
}
