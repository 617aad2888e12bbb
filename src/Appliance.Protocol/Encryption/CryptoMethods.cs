using Appliance.Protocol.Metainfo;

namespace Appliance.Protocol.Encryption;

/// <summary>MSE/PE crypto_provide / crypto_select bits.</summary>
[Flags]
public enum CryptoMethods : uint
{
    None = 0,

    /// <summary>Only the handshake is obfuscated; the stream after it is plaintext.</summary>
    Plaintext = 0x01,
    Rc4 = 0x02,
}

/// <summary>Finds the torrent whose HASH('req2', info-hash) an initiator sent, without trying every torrent.</summary>
public interface IObfuscatedHashLookup
{
    bool TryFindByReq2(ReadOnlySpan<byte> req2, out InfoHash infoHash);
}
