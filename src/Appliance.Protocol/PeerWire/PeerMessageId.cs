namespace Appliance.Protocol.PeerWire;

/// <summary>Peer-wire message ids: BEP 3 (0-9), BEP 6 fast extension (0x0D-0x11), BEP 10 extended (20), BEP 52 hashes (21-23).</summary>
public enum PeerMessageId : byte
{
    Choke = 0,
    Unchoke = 1,
    Interested = 2,
    NotInterested = 3,
    Have = 4,
    Bitfield = 5,
    Request = 6,
    Piece = 7,
    Cancel = 8,
    Port = 9,
    Suggest = 0x0D,
    HaveAll = 0x0E,
    HaveNone = 0x0F,
    RejectRequest = 0x10,
    AllowedFast = 0x11,
    Extended = 20,
    HashRequest = 21,
    Hashes = 22,
    HashReject = 23,
}
