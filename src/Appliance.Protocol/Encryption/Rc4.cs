namespace Appliance.Protocol.Encryption;

/// <summary>
/// The RC4 stream cipher as MSE/PE uses it: keyed with a 20-byte SHA-1 and with the first 1024 bytes of key stream
/// thrown away (the spec's defence against RC4's biased first bytes). One instance per direction of one connection;
/// <see cref="Apply"/> transforms in place (encrypting and decrypting are the same XOR) and allocates nothing.
/// </summary>
public sealed class Rc4
{
    public const int DiscardedBytes = 1024;

    private readonly byte[] _state = new byte[256];
    private byte _i;
    private byte _j;

    public Rc4(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty) throw new ArgumentException("an RC4 key needs at least one byte", nameof(key));
        var s = _state;
        for (int n = 0; n < 256; n++) s[n] = (byte)n;
        byte j = 0;
        for (int n = 0; n < 256; n++)
        {
            j = (byte)(j + s[n] + key[n % key.Length]);
            (s[n], s[j]) = (s[j], s[n]);
        }
        Span<byte> discard = stackalloc byte[DiscardedBytes];
        discard.Clear();
        Apply(discard);
    }

    public void Apply(Span<byte> data)
    {
        var s = _state;
        byte i = _i, j = _j;
        for (int n = 0; n < data.Length; n++)
        {
            i++;
            byte si = s[i];
            j += si;
            byte sj = s[j];
            s[i] = sj;
            s[j] = si;
            data[n] ^= s[(byte)(si + sj)];
        }
        _i = i;
        _j = j;
    }
}
