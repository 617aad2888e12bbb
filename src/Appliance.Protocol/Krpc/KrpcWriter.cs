using Appliance.Protocol.Bencode;

namespace Appliance.Protocol.Krpc;

/// <summary>
/// Encodes KRPC queries, responses and errors into a caller's buffer (keys in canonical order). Each method
/// returns the number of bytes written; the buffer must be large enough (1500 bytes always is).
/// </summary>
public static class KrpcWriter
{
    public const int ErrorGeneric = 201;
    public const int ErrorServer = 202;
    public const int ErrorProtocol = 203;
    public const int ErrorMethodUnknown = 204;

    public static int WritePing(Span<byte> destination, ReadOnlySpan<byte> transactionId, ReadOnlySpan<byte> ownId, ReadOnlySpan<byte> version)
    {
        var w = new BencodeWriter(destination);
        BeginQuery(ref w, ownId);
        EndQuery(ref w, "ping"u8, transactionId, version);
        return w.BytesWritten;
    }

    public static int WriteFindNode(Span<byte> destination, ReadOnlySpan<byte> transactionId, ReadOnlySpan<byte> ownId, ReadOnlySpan<byte> target, ReadOnlySpan<byte> version)
    {
        var w = new BencodeWriter(destination);
        BeginQuery(ref w, ownId);
        w.WriteKey("target"u8); w.WriteString(target);
        EndQuery(ref w, "find_node"u8, transactionId, version);
        return w.BytesWritten;
    }

    public static int WriteGetPeers(Span<byte> destination, ReadOnlySpan<byte> transactionId, ReadOnlySpan<byte> ownId, ReadOnlySpan<byte> infoHash, ReadOnlySpan<byte> version)
    {
        var w = new BencodeWriter(destination);
        BeginQuery(ref w, ownId);
        w.WriteKey("info_hash"u8); w.WriteString(infoHash);
        EndQuery(ref w, "get_peers"u8, transactionId, version);
        return w.BytesWritten;
    }

    public static int WriteAnnouncePeer(Span<byte> destination, ReadOnlySpan<byte> transactionId, ReadOnlySpan<byte> ownId,
        ReadOnlySpan<byte> infoHash, int port, bool impliedPort, ReadOnlySpan<byte> token, ReadOnlySpan<byte> version)
    {
        var w = new BencodeWriter(destination);
        BeginQuery(ref w, ownId);
        w.WriteKey("implied_port"u8); w.WriteInteger(impliedPort ? 1 : 0);
        w.WriteKey("info_hash"u8); w.WriteString(infoHash);
        w.WriteKey("port"u8); w.WriteInteger(port);
        w.WriteKey("token"u8); w.WriteString(token);
        EndQuery(ref w, "announce_peer"u8, transactionId, version);
        return w.BytesWritten;
    }

    /// <summary>
    /// Begins a response: writes up to the opening of <c>r</c> and its <c>id</c>. The caller adds <c>nodes</c>,
    /// <c>token</c>, <c>values</c> in that order, then calls <see cref="EndResponse"/>.
    /// </summary>
    public static void BeginResponse(ref BencodeWriter w, CompactPeer requester, ReadOnlySpan<byte> ownId)
    {
        w.WriteDictionaryStart();
        w.WriteKey("ip"u8);
        Span<byte> ip = stackalloc byte[requester.CompactLength];
        requester.Write(ip);
        w.WriteString(ip);
        w.WriteKey("r"u8);
        w.WriteDictionaryStart();
        w.WriteKey("id"u8); w.WriteString(ownId);
    }

    public static void EndResponse(ref BencodeWriter w, ReadOnlySpan<byte> transactionId, ReadOnlySpan<byte> version)
    {
        w.WriteEnd();
        w.WriteKey("t"u8); w.WriteString(transactionId);
        if (!version.IsEmpty) { w.WriteKey("v"u8); w.WriteString(version); }
        w.WriteKey("y"u8); w.WriteString("r"u8);
        w.WriteEnd();
    }

    public static int WriteError(Span<byte> destination, ReadOnlySpan<byte> transactionId, int code, ReadOnlySpan<byte> message, ReadOnlySpan<byte> version)
    {
        var w = new BencodeWriter(destination);
        w.WriteDictionaryStart();
        w.WriteKey("e"u8);
        w.WriteListStart();
        w.WriteInteger(code);
        w.WriteString(message);
        w.WriteEnd();
        w.WriteKey("t"u8); w.WriteString(transactionId);
        if (!version.IsEmpty) { w.WriteKey("v"u8); w.WriteString(version); }
        w.WriteKey("y"u8); w.WriteString("e"u8);
        w.WriteEnd();
        return w.BytesWritten;
    }

    /// <summary>Opens a query and its arguments <c>a</c> with our <c>id</c>; the caller adds the other arguments in key order.</summary>
    private static void BeginQuery(ref BencodeWriter w, ReadOnlySpan<byte> ownId)
    {
        w.WriteDictionaryStart();
        w.WriteKey("a"u8);
        w.WriteDictionaryStart();
        w.WriteKey("id"u8); w.WriteString(ownId);
    }

    /// <summary>Closes the arguments and writes the rest of the query: <c>q</c>, <c>t</c>, <c>v</c>, <c>y</c>.</summary>
    private static void EndQuery(ref BencodeWriter w, ReadOnlySpan<byte> method, ReadOnlySpan<byte> transactionId, ReadOnlySpan<byte> version)
    {
        w.WriteEnd();
        w.WriteKey("q"u8); w.WriteString(method);
        w.WriteKey("t"u8); w.WriteString(transactionId);
        if (!version.IsEmpty) { w.WriteKey("v"u8); w.WriteString(version); }
        w.WriteKey("y"u8); w.WriteString("q"u8);
        w.WriteEnd();
    }
}
