using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;

namespace Appliance.Seeding.Sessions;

/// <summary>BEP 52 hash requests: answered from the torrent's piece layers, or rejected. Runs under the session lock.</summary>
internal sealed partial class PeerSession
{
    private bool HandleHashRequest(ReadOnlySpan<byte> payload, ref bool wake, out string? violation)
    {
        violation = null;
        var counters = _services.Counters;
        counters.HashRequestReceived();
        if (!HashRequest.TryParse(payload, out var request)) return Fail("malformed hash request", out violation);
        var hashes = _torrent!.Hashes;
        var reason = HashRejectReason.NotV2;
        int count = hashes?.AnswerCount(request, out reason) ?? -1;
        if (count >= 0)
        {
            int hashBytes = count * MerkleTree.HashLength;
            // An answer that does not fit the outbox is rejected; the peer asks again or elsewhere.
            if (TryAppend(HashRequest.RejectMessageLength + hashBytes, out var answer))
            {
                int header = request.WriteHeader(answer, PeerMessageId.Hashes, hashBytes);
                hashes!.WriteAnswer(request, answer[header..]);
                counters.HashesAnswered(hashBytes);
                wake = true;
                return true;
            }
            reason = HashRejectReason.OutboxFull;
        }
        if (TryAppend(HashRequest.RejectMessageLength, out var reject))
        {
            request.WriteHeader(reject, PeerMessageId.HashReject, 0);
            counters.HashRejects.Increment(reason);
            wake = true;
        }
        return true;
    }
}
