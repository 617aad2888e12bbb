namespace Appliance.Seeding.Encryption;

/// <summary>What incoming peers may speak (--encryption).</summary>
public enum EncryptionPolicy : byte
{
    /// <summary>Plaintext and MSE/PE peers; an MSE peer offering both gets plaintext after the handshake (zero-copy sends).</summary>
    Allow,

    /// <summary>Plaintext and MSE/PE peers; an MSE peer offering RC4 gets RC4.</summary>
    Prefer,

    /// <summary>MSE/PE only: plaintext handshakes are refused; RC4 whenever the peer offers it.</summary>
    Require,
}
