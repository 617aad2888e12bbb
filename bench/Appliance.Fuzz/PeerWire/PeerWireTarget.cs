using Appliance.Protocol.PeerWire;

namespace Appliance.Fuzz.PeerWire;

/// <summary>
/// An optional handshake, then peer-wire frames: request, cancel and reject_request; the extension handshake and
/// ut_metadata; and the BEP 52 hash messages (hash request, hashes, hash reject). A payload the codec accepts must come
/// back byte for byte from the writer the seeder answers with, and a hash request must be accepted exactly when it is 48
/// bytes long.
/// </summary>
public static class PeerWireTarget
{
    private const int MaxFrame = 1024 * 1024;

    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        if (Handshake.TryParse(data, out _) == HandshakeStatus.Complete) data = data[Handshake.Length..];
        Span<byte> written = stackalloc byte[HashRequest.RejectMessageLength];
        while (PeerMessageReader.TryReadHeader(data, MaxFrame, out var header) == FrameStatus.Complete)
        {
            if (header.FrameLength > data.Length) return;
            var frame = data[..header.FrameLength];
            var payload = header.IsKeepAlive ? default : frame[PeerMessageHeader.PayloadOffset..];
            switch (header.Id)
            {
                case PeerMessageId.Request or PeerMessageId.Cancel or PeerMessageId.RejectRequest:
                    if (BlockRequest.TryParse(payload, out var block))
                        SameBytes(frame, written[..PeerMessageWriter.WriteBlockMessage(written, header.Id, block)], header.Id);
                    break;
                case PeerMessageId.Extended when !payload.IsEmpty:
                    _ = ExtensionHandshake.TryParse(payload[1..], out _);
                    _ = MetadataMessage.TryParse(payload[1..], out _, out _);
                    break;
                case PeerMessageId.HashRequest or PeerMessageId.HashReject:
                    if (HashRequest.TryParse(payload, out var request) != (payload.Length == HashRequest.PayloadLength))
                        throw new InvalidOperationException($"{header.Id} of {payload.Length} bytes accepted wrongly");
                    if (payload.Length == HashRequest.PayloadLength)
                        SameBytes(frame, written[..request.WriteHeader(written, header.Id, 0)], header.Id);
                    break;
                case PeerMessageId.Hashes when payload.Length >= HashRequest.PayloadLength:
                    // The 48 request bytes lead; the seeder's answer header must announce the hashes that follow them.
                    if (!HashRequest.TryParse(payload[..HashRequest.PayloadLength], out var answered))
                        throw new InvalidOperationException("the request part of hashes was refused");
                    int hashBytes = payload.Length - HashRequest.PayloadLength;
                    SameBytes(frame[..HashRequest.RejectMessageLength], written[..answered.WriteHeader(written, header.Id, hashBytes)], header.Id);
                    break;
            }
            data = data[header.FrameLength..];
        }
    }

    private static void SameBytes(ReadOnlySpan<byte> read, ReadOnlySpan<byte> written, PeerMessageId id)
    {
        if (!read.SequenceEqual(written)) throw new InvalidOperationException($"{id} does not survive a read and re-write");
    }
}
