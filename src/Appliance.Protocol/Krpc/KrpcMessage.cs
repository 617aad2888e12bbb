using Appliance.Protocol.Bencode;

namespace Appliance.Protocol.Krpc;

public enum KrpcMessageType : byte
{
    Query,
    Response,
    Error,
}

[Flags]
public enum KrpcWant : byte
{
    None = 0,
    Nodes4 = 1,
    Nodes6 = 2,
}

public enum KrpcMethod : byte
{
    Unknown,
    Ping,
    FindNode,
    GetPeers,
    AnnouncePeer,
}

/// <summary>Why a datagram was not a usable KRPC message.</summary>
public enum KrpcParseStatus : byte
{
    Ok,
    MalformedBencode,
    NotADictionary,
    MissingTransactionId,
    MissingType,
    UnknownType,
    MissingMethod,
    MissingArguments,
    MissingNodeId,
    BadNodeId,
    BadField,
}

/// <summary>
/// One KRPC message (BEP 5) as views into the datagram it was parsed from; nothing is copied or allocated.
/// Fields that were absent are empty spans (or -1 for <see cref="Port"/>).
/// </summary>
public ref struct KrpcMessage
{
    public KrpcMessageType Type;
    public KrpcMethod Method;
    public ReadOnlySpan<byte> TransactionId;
    public ReadOnlySpan<byte> MethodName;
    public ReadOnlySpan<byte> Version;
    /// <summary>BEP 42: the requester's address as the responder saw it (compact 6 or 18 bytes).</summary>
    public ReadOnlySpan<byte> ExternalAddress;
    public ReadOnlySpan<byte> NodeId;
    public ReadOnlySpan<byte> Target;
    public ReadOnlySpan<byte> InfoHash;
    public ReadOnlySpan<byte> Token;
    /// <summary>Compact IPv4 node infos, 26 bytes each.</summary>
    public ReadOnlySpan<byte> Nodes;
    /// <summary>BEP 32: compact IPv6 node infos, 38 bytes each.</summary>
    public ReadOnlySpan<byte> Nodes6;
    /// <summary>BEP 32: the families of nodes a query asks for (none: the family it came over).</summary>
    public KrpcWant Want;
    /// <summary>The encoded <c>values</c> list (from its <c>l</c> to its <c>e</c>); enumerate with <see cref="EnumerateValues"/>.</summary>
    public ReadOnlySpan<byte> EncodedValues;
    public int Port;
    public bool ImpliedPort;
    /// <summary>BEP 43: the sender does not answer queries.</summary>
    public bool ReadOnlyNode;
    public long ErrorCode;
    public ReadOnlySpan<byte> ErrorMessage;

    public readonly CompactValuesEnumerator EnumerateValues() => new(EncodedValues);
}

/// <summary>Walks a <c>values</c> list, yielding each compact peer (6 bytes IPv4, 18 bytes IPv6); other lengths are skipped.</summary>
public ref struct CompactValuesEnumerator
{
    private BencodeReader _reader;
    private readonly bool _empty;

    public CompactValuesEnumerator(ReadOnlySpan<byte> encodedList)
    {
        _empty = encodedList.IsEmpty;
        _reader = new BencodeReader(encodedList, BencodeLimits.Datagram);
        if (!_empty) _reader.Read();
        Current = default;
    }

    public ReadOnlySpan<byte> Current { get; private set; }

    public readonly CompactValuesEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_empty) return false;
        while (_reader.Read())
        {
            if (_reader.TokenType == BencodeTokenType.End) return false;
            if (_reader.TokenType == BencodeTokenType.ByteString && _reader.ValueSpan.Length is CompactPeer.Length or CompactPeer.V6Length)
            {
                Current = _reader.ValueSpan;
                return true;
            }
            if (!_reader.Skip()) return false;
        }
        return false;
    }
}
