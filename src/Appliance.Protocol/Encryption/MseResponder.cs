using System.Buffers.Binary;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.Randomness;

namespace Appliance.Protocol.Encryption;

public enum MseStatus : byte
{
    NeedMoreData,
    Done,
    Failed,
}

/// <summary>
/// The receiving side (B) of the MSE/PE handshake as a state machine over received bytes, without I/O:
/// Ya -> (send Yb, PadB) -> resynchronise on HASH('req1', S) past PadA -> HASH('req2', SKEY) xor HASH('req3', S) names the
/// torrent -> ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)) -> (send ENCRYPT(VC, crypto_select, len(PadD),
/// PadD)) -> ENCRYPT(IA). Every field is bounded; any deviation fails with a reason. Done leaves the decrypted initial
/// payload (normally the BitTorrent handshake) in <see cref="InitialPayload"/>.
/// </summary>
public sealed class MseResponder
{
    public const int MaxPadLength = 512;

    /// <summary>Largest initial payload accepted: a handshake plus room for the first messages some clients add.</summary>
    public const int MaxInitialPayload = 4096;

    private const int VcLength = 8;
    private const int SyncWindow = MaxPadLength + MseKeyExchange.HashLength;

    private readonly IObfuscatedHashLookup _lookup;
    private readonly CryptoMethods _allowed;
    private readonly bool _preferRc4;
    private readonly byte[] _privateKey = new byte[MseKeyExchange.PrivateKeyLength];
    private readonly byte[] _secret = new byte[MseKeyExchange.KeyLength];
    private readonly byte[] _req1 = new byte[MseKeyExchange.HashLength];
    private readonly byte[] _reply = new byte[MseKeyExchange.KeyLength + MaxPadLength + VcLength + 6];
    private byte[] _field = new byte[SyncWindow];
    private int _fieldLength;
    private int _replyLength;
    private Stage _stage;
    private int _toSkip;
    private byte[] _initialPayload = [];
    private readonly bool _fixedPrivateKey;

    public MseResponder(IObfuscatedHashLookup lookup, CryptoMethods allowed, bool preferRc4)
    {
        if ((allowed & (CryptoMethods.Plaintext | CryptoMethods.Rc4)) == 0) throw new ArgumentException("no crypto method allowed", nameof(allowed));
        _lookup = lookup;
        _allowed = allowed;
        _preferRc4 = preferRc4;
    }

    /// <summary>
    /// With a fixed private key instead of a random one, so the shared secret and every hash and key after it are known in
    /// advance: for the fuzz target, whose inputs must reach past the key exchange. Never for a real connection.
    /// </summary>
    internal MseResponder(IObfuscatedHashLookup lookup, CryptoMethods allowed, bool preferRc4, ReadOnlySpan<byte> privateKey)
        : this(lookup, allowed, preferRc4)
    {
        if (privateKey.Length != MseKeyExchange.PrivateKeyLength) throw new ArgumentException($"a private key is {MseKeyExchange.PrivateKeyLength} bytes", nameof(privateKey));
        privateKey.CopyTo(_privateKey);
        _fixedPrivateKey = true;
    }

    private enum Stage : byte
    {
        PublicKey,
        Sync,
        Skey,
        VerificationAndProvide,
        PadC,
        InitialPayloadLength,
        InitialPayload,
        Done,
        Failed,
    }

    /// <summary>Bytes to send now (Yb and PadB; later the encrypted crypto_select); call <see cref="ReplySent"/> after.</summary>
    public ReadOnlySpan<byte> Reply => _reply.AsSpan(0, _replyLength);

    public void ReplySent() => _replyLength = 0;

    public InfoHash InfoHash { get; private set; }

    public CryptoMethods Selected { get; private set; }

    /// <summary>Decrypts what the initiator sends (key A). After Done: null when plaintext was selected.</summary>
    public Rc4? Decryptor { get; private set; }

    /// <summary>Encrypts what we send (key B). After Done: null when plaintext was selected.</summary>
    public Rc4? Encryptor { get; private set; }

    public ReadOnlySpan<byte> InitialPayload => _initialPayload;

    public string? Failure { get; private set; }

    /// <summary>True once the public key arrived and the expensive exponentiations are done.</summary>
    public bool KeysExchanged => _stage > Stage.PublicKey;

    /// <summary>
    /// Feeds received bytes. Until Done every byte is consumed; at Done, <paramref name="consumed"/> stops at the end of
    /// the initial payload and the rest belongs to the (possibly encrypted) peer-wire stream.
    /// </summary>
    public MseStatus Receive(ReadOnlySpan<byte> data, out int consumed)
    {
        int start = data.Length;
        var status = Run(ref data);
        consumed = start - data.Length;
        return status;
    }

    private MseStatus Run(ref ReadOnlySpan<byte> data)
    {
        while (true)
        {
            switch (_stage)
            {
                case Stage.PublicKey:
                    if (!Fill(ref data, MseKeyExchange.KeyLength)) return MseStatus.NeedMoreData;
                    if (!ExchangeKeys()) return Fail("public key out of range");
                    break;
                case Stage.Sync:
                    if (!Synchronise(ref data, out bool lost)) return lost ? Fail("no HASH('req1', S) within the padding") : MseStatus.NeedMoreData;
                    break;
                case Stage.Skey:
                    if (!Fill(ref data, MseKeyExchange.HashLength)) return MseStatus.NeedMoreData;
                    if (!FindTorrent()) return Fail("obfuscated info-hash matches no torrent");
                    break;
                case Stage.VerificationAndProvide:
                    if (!Fill(ref data, VcLength + 6)) return MseStatus.NeedMoreData;
                    Decryptor!.Apply(_field.AsSpan(0, VcLength + 6));
                    if (_field.AsSpan(0, VcLength).ContainsAnyExcept((byte)0)) return Fail("verification constant is not zero");
                    var provided = (CryptoMethods)BinaryPrimitives.ReadUInt32BigEndian(_field.AsSpan(VcLength));
                    _toSkip = BinaryPrimitives.ReadUInt16BigEndian(_field.AsSpan(VcLength + 4));
                    if (_toSkip > MaxPadLength) return Fail($"PadC of {_toSkip} bytes");
                    Selected = Select(provided);
                    if (Selected == CryptoMethods.None) return Fail($"crypto_provide {(uint)provided:x} offers nothing we accept");
                    Next(Stage.PadC);
                    break;
                case Stage.PadC:
                    if (!Skip(ref data)) return MseStatus.NeedMoreData;
                    Next(Stage.InitialPayloadLength);
                    break;
                case Stage.InitialPayloadLength:
                    if (!Fill(ref data, 2)) return MseStatus.NeedMoreData;
                    Decryptor!.Apply(_field.AsSpan(0, 2));
                    int length = BinaryPrimitives.ReadUInt16BigEndian(_field);
                    if (length > MaxInitialPayload) return Fail($"initial payload of {length} bytes");
                    if (_field.Length < length) _field = new byte[length];
                    _toSkip = length;
                    // Our answer goes before the initial payload arrives: an initiator that sends it in a second segment
                    // with Nagle on (libtorrent does) waits for our ACK, which a reply carries at once and a delayed
                    // ACK only after 40 ms.
                    WriteSelect();
                    Next(Stage.InitialPayload);
                    break;
                case Stage.InitialPayload:
                    if (!Fill(ref data, _toSkip)) return MseStatus.NeedMoreData;
                    _initialPayload = _field.AsSpan(0, _toSkip).ToArray();
                    Decryptor!.Apply(_initialPayload);
                    if (Selected == CryptoMethods.Plaintext)
                    {
                        Decryptor = null;
                        Encryptor = null;
                    }
                    _field = [];
                    _stage = Stage.Done;
                    return MseStatus.Done;
                case Stage.Done:
                    return MseStatus.Done;
                default:
                    return MseStatus.Failed;
            }
        }
    }

    private CryptoMethods Select(CryptoMethods provided)
    {
        var common = provided & _allowed;
        if ((common & CryptoMethods.Rc4) != 0 && (_preferRc4 || (common & CryptoMethods.Plaintext) == 0)) return CryptoMethods.Rc4;
        return (common & CryptoMethods.Plaintext) != 0 ? CryptoMethods.Plaintext : CryptoMethods.None;
    }

    private bool ExchangeKeys()
    {
        if (!_fixedPrivateKey) MseKeyExchange.CreatePrivateKey(_privateKey);
        if (!MseKeyExchange.TrySharedSecret(_privateKey, _field.AsSpan(0, MseKeyExchange.KeyLength), _secret)) return false;
        MseKeyExchange.PublicKey(_privateKey, _reply.AsSpan(0, MseKeyExchange.KeyLength));
        int pad = KernelRandom.GetInt32(MaxPadLength + 1);
        KernelRandom.Fill(_reply.AsSpan(MseKeyExchange.KeyLength, pad));
        _replyLength = MseKeyExchange.KeyLength + pad;
        MseKeyExchange.Hash("req1"u8, _secret, default, _req1);
        Next(Stage.Sync);
        return true;
    }

    /// <summary>PadA has no length field: the initiator's next bytes are found by searching for HASH('req1', S).</summary>
    private bool Synchronise(ref ReadOnlySpan<byte> data, out bool lost)
    {
        lost = false;
        int before = _fieldLength;
        int take = Math.Min(data.Length, SyncWindow - before);
        data[..take].CopyTo(_field.AsSpan(before));
        _fieldLength += take;
        int found = _field.AsSpan(0, _fieldLength).IndexOf(_req1);
        if (found < 0)
        {
            data = data[take..];
            lost = _fieldLength == SyncWindow;
            return false;
        }
        // Only the bytes up to the end of req1 are used; what follows is the next field.
        data = data[(found + _req1.Length - before)..];
        Next(Stage.Skey);
        return true;
    }

    private bool FindTorrent()
    {
        Span<byte> req2 = stackalloc byte[MseKeyExchange.HashLength];
        MseKeyExchange.Hash("req3"u8, _secret, default, req2);
        for (int i = 0; i < req2.Length; i++) req2[i] ^= _field[i];
        if (!_lookup.TryFindByReq2(req2, out var infoHash)) return false;
        InfoHash = infoHash;
        Span<byte> skey = stackalloc byte[InfoHash.Length];
        infoHash.CopyTo(skey);
        Span<byte> key = stackalloc byte[MseKeyExchange.HashLength];
        MseKeyExchange.Hash("keyA"u8, _secret, skey, key);
        Decryptor = new Rc4(key);
        MseKeyExchange.Hash("keyB"u8, _secret, skey, key);
        Encryptor = new Rc4(key);
        Next(Stage.VerificationAndProvide);
        return true;
    }

    private void WriteSelect()
    {
        var step = _reply.AsSpan(_replyLength, VcLength + 6);
        step.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(step[VcLength..], (uint)Selected);
        // len(PadD) = 0: the padding hides nothing once both sides speak RC4.
        Encryptor!.Apply(step);
        _replyLength += step.Length;
    }

    private bool Fill(ref ReadOnlySpan<byte> data, int need)
    {
        int take = Math.Min(need - _fieldLength, data.Length);
        data[..take].CopyTo(_field.AsSpan(_fieldLength));
        _fieldLength += take;
        data = data[take..];
        return _fieldLength == need;
    }

    private bool Skip(ref ReadOnlySpan<byte> data)
    {
        Span<byte> scratch = stackalloc byte[MaxPadLength];
        int take = Math.Min(_toSkip, data.Length);
        data[..take].CopyTo(scratch);
        Decryptor!.Apply(scratch[..take]);
        _toSkip -= take;
        data = data[take..];
        return _toSkip == 0;
    }

    private void Next(Stage stage)
    {
        _stage = stage;
        _fieldLength = 0;
    }

    private MseStatus Fail(string reason)
    {
        Failure = reason;
        _stage = Stage.Failed;
        return MseStatus.Failed;
    }
}
