using Appliance.Protocol.Bencode;

namespace Appliance.Protocol.Krpc;

/// <summary>Parses one KRPC datagram into a <see cref="KrpcMessage"/> of views; allocation-free.</summary>
public static class KrpcParser
{
    public const int MaxTransactionIdLength = 16;
    public const int MaxTokenLength = 64;

    public static KrpcParseStatus Parse(ReadOnlySpan<byte> datagram, out KrpcMessage message)
    {
        var parsed = new KrpcMessage { Port = -1 };
        var status = ParseInto(datagram, ref parsed);
        message = parsed;
        return status;
    }

    private static KrpcParseStatus ParseInto(ReadOnlySpan<byte> datagram, ref KrpcMessage message)
    {
        var reader = new BencodeReader(datagram, BencodeLimits.Datagram);
        if (!reader.Read()) return KrpcParseStatus.MalformedBencode;
        if (reader.TokenType != BencodeTokenType.DictionaryStart) return KrpcParseStatus.NotADictionary;

        bool haveType = false;
        bool haveBody = false;
        byte typeByte = 0;
        while (reader.Read())
        {
            if (reader.TokenType == BencodeTokenType.End) break;
            ReadOnlySpan<byte> key = reader.ValueSpan;
            if (key.SequenceEqual("t"u8))
            {
                if (!reader.TryReadString(out var t)) return Fail(ref reader);
                message.TransactionId = t;
            }
            else if (key.SequenceEqual("y"u8))
            {
                if (!reader.TryReadString(out var y)) return Fail(ref reader);
                if (y.Length != 1) return KrpcParseStatus.UnknownType;
                typeByte = y[0];
                haveType = true;
            }
            else if (key.SequenceEqual("q"u8))
            {
                if (!reader.TryReadString(out var q)) return Fail(ref reader);
                message.MethodName = q;
                message.Method = MethodOf(q);
            }
            else if (key.SequenceEqual("v"u8))
            {
                if (!reader.TryReadString(out var v)) return Fail(ref reader);
                message.Version = v;
            }
            else if (key.SequenceEqual("ip"u8))
            {
                if (!reader.TryReadString(out var ip)) return Fail(ref reader);
                message.ExternalAddress = ip;
            }
            else if (key.SequenceEqual("ro"u8))
            {
                if (!reader.TryReadInteger(out long ro)) return Fail(ref reader);
                message.ReadOnlyNode = ro == 1;
            }
            else if (key.SequenceEqual("a"u8) || key.SequenceEqual("r"u8))
            {
                if (!reader.Read() || reader.TokenType != BencodeTokenType.DictionaryStart) return Fail(ref reader);
                var status = ParseBody(ref reader, ref message);
                if (status != KrpcParseStatus.Ok) return status;
                haveBody = true;
            }
            else if (key.SequenceEqual("e"u8))
            {
                if (!reader.Read() || reader.TokenType != BencodeTokenType.ListStart) return Fail(ref reader);
                if (!reader.TryReadInteger(out long code)) return Fail(ref reader);
                message.ErrorCode = code;
                if (!reader.Read()) return Fail(ref reader);
                if (reader.TokenType == BencodeTokenType.ByteString)
                {
                    message.ErrorMessage = reader.ValueSpan;
                    if (!reader.Read()) return Fail(ref reader);
                }
                while (reader.TokenType != BencodeTokenType.End)
                {
                    if (!reader.Skip() || !reader.Read()) return Fail(ref reader);
                }
            }
            else if (!reader.ReadAndSkipValue())
            {
                return Fail(ref reader);
            }
        }
        if (reader.Error.IsError) return KrpcParseStatus.MalformedBencode;
        // Finishes the top-level value and refuses trailing bytes.
        reader.Read();
        if (reader.Error.IsError || !reader.IsComplete) return KrpcParseStatus.MalformedBencode;

        if (message.TransactionId.IsEmpty || message.TransactionId.Length > MaxTransactionIdLength)
            return KrpcParseStatus.MissingTransactionId;
        if (!haveType) return KrpcParseStatus.MissingType;
        switch (typeByte)
        {
            case (byte)'q':
                message.Type = KrpcMessageType.Query;
                if (message.MethodName.IsEmpty) return KrpcParseStatus.MissingMethod;
                if (!haveBody) return KrpcParseStatus.MissingArguments;
                break;
            case (byte)'r':
                message.Type = KrpcMessageType.Response;
                if (!haveBody) return KrpcParseStatus.MissingArguments;
                break;
            case (byte)'e':
                message.Type = KrpcMessageType.Error;
                return KrpcParseStatus.Ok;
            default:
                return KrpcParseStatus.UnknownType;
        }
        if (message.NodeId.IsEmpty) return KrpcParseStatus.MissingNodeId;
        if (message.NodeId.Length != CompactNode.IdLength) return KrpcParseStatus.BadNodeId;
        return KrpcParseStatus.Ok;
    }

    private static KrpcParseStatus ParseBody(ref BencodeReader reader, ref KrpcMessage message)
    {
        while (reader.Read())
        {
            if (reader.TokenType == BencodeTokenType.End) return KrpcParseStatus.Ok;
            ReadOnlySpan<byte> key = reader.ValueSpan;
            if (key.SequenceEqual("id"u8))
            {
                if (!reader.TryReadString(out var id)) return Fail(ref reader);
                message.NodeId = id;
            }
            else if (key.SequenceEqual("target"u8))
            {
                if (!reader.TryReadString(out var target) || target.Length != CompactNode.IdLength) return FailField(ref reader);
                message.Target = target;
            }
            else if (key.SequenceEqual("info_hash"u8))
            {
                if (!reader.TryReadString(out var hash) || hash.Length != CompactNode.IdLength) return FailField(ref reader);
                message.InfoHash = hash;
            }
            else if (key.SequenceEqual("token"u8))
            {
                if (!reader.TryReadString(out var token) || token.Length > MaxTokenLength) return FailField(ref reader);
                message.Token = token;
            }
            else if (key.SequenceEqual("nodes"u8))
            {
                if (!reader.TryReadString(out var nodes) || nodes.Length % CompactNode.Length != 0) return FailField(ref reader);
                message.Nodes = nodes;
            }
            else if (key.SequenceEqual("nodes6"u8))
            {
                if (!reader.TryReadString(out var nodes6) || nodes6.Length % CompactNode.V6Length != 0) return FailField(ref reader);
                message.Nodes6 = nodes6;
            }
            else if (key.SequenceEqual("want"u8))
            {
                // BEP 32: a list of "n4" and/or "n6"; anything else in it is ignored.
                if (!reader.Read() || reader.TokenType != BencodeTokenType.ListStart) return FailField(ref reader);
                while (reader.Read() && reader.TokenType != BencodeTokenType.End)
                {
                    if (reader.TokenType != BencodeTokenType.ByteString) return FailField(ref reader);
                    if (reader.ValueSpan.SequenceEqual("n4"u8)) message.Want |= KrpcWant.Nodes4;
                    else if (reader.ValueSpan.SequenceEqual("n6"u8)) message.Want |= KrpcWant.Nodes6;
                }
                if (reader.Error.IsError) return KrpcParseStatus.MalformedBencode;
            }
            else if (key.SequenceEqual("values"u8))
            {
                if (!reader.Read() || reader.TokenType != BencodeTokenType.ListStart) return FailField(ref reader);
                int start = reader.TokenStart;
                if (!reader.Skip()) return Fail(ref reader);
                message.EncodedValues = reader.Buffer[start..reader.Position];
            }
            else if (key.SequenceEqual("port"u8))
            {
                if (!reader.TryReadInteger(out long port) || port is < 0 or > ushort.MaxValue) return FailField(ref reader);
                message.Port = (int)port;
            }
            else if (key.SequenceEqual("implied_port"u8))
            {
                if (!reader.TryReadInteger(out long implied)) return FailField(ref reader);
                message.ImpliedPort = implied != 0;
            }
            else if (!reader.ReadAndSkipValue())
            {
                return Fail(ref reader);
            }
        }
        return KrpcParseStatus.MalformedBencode;
    }

    private static KrpcMethod MethodOf(ReadOnlySpan<byte> name)
    {
        if (name.SequenceEqual("get_peers"u8)) return KrpcMethod.GetPeers;
        if (name.SequenceEqual("find_node"u8)) return KrpcMethod.FindNode;
        if (name.SequenceEqual("ping"u8)) return KrpcMethod.Ping;
        if (name.SequenceEqual("announce_peer"u8)) return KrpcMethod.AnnouncePeer;
        return KrpcMethod.Unknown;
    }

    private static KrpcParseStatus Fail(ref BencodeReader reader) =>
        reader.Error.IsError ? KrpcParseStatus.MalformedBencode : KrpcParseStatus.BadField;

    private static KrpcParseStatus FailField(ref BencodeReader reader) =>
        reader.Error.IsError ? KrpcParseStatus.MalformedBencode : KrpcParseStatus.BadField;
}
