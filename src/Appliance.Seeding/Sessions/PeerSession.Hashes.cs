using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;

namespace Appliance.Seeding.Sessions;

/// <summary>BEP 52 hash requests: answered from the torrent's piece layers, or rejected. Runs under the session lock.</summary>
internal sealed partial class PeerSession
{
    private bool HandleHashRequest(ReadOnlySpan<byte> payload, ref bool wake, out string? violation)
    {
        violation = null;
        if (!HashRequest.TryParse(payload, out var request)) return Fail("malformed hash request", out violation);
        var hashes = _torrent!.Hashes;
        int count = hashes?.AnswerCount(request) ?? -1;
        // An answer that does not fit the outbox is rejected; the peer asks again or elsewhere.
        if (count >= 0 && TryAppend(HashRequest.RejectMessageLength + count * MerkleTree.HashLength, out var span))
        {
            int header = request.WriteHeader(span, PeerMessageId.Hashes, count * MerkleTree.HashLength);
            hashes!.WriteAnswer(request, span[header..]);
            wake = true;
            return true;
        }
        if (TryAppend(HashRequest.RejectMessageLength, out span))
        {
            request.WriteHeader(span, PeerMessageId.HashReject, 0);
            wake = true;
        }
        return true;
    }
}
