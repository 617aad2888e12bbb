using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;

namespace Appliance.Dht.Routing;

/// <summary>What a restart needs to rejoin without routers: our id and the nodes we knew (bencoded, compact).</summary>
public sealed record RoutingTableState(NodeId Id, IReadOnlyList<(NodeId Id, CompactPeer Address)> Nodes)
{
    public const int MaxNodes = 2048;

    public static byte[] Encode(NodeId id, IEnumerable<RoutingNode> nodes)
    {
        var list = nodes.Take(MaxNodes).ToList();
        var compact = Compact(list.Where(n => !n.Address.IsV6).ToList(), CompactNode.Length);
        var compact6 = Compact(list.Where(n => n.Address.IsV6).ToList(), CompactNode.V6Length);
        var buffer = new byte[compact.Length + compact6.Length + 80];
        var w = new BencodeWriter(buffer);
        Span<byte> idBytes = stackalloc byte[NodeId.Length];
        id.CopyTo(idBytes);
        w.WriteDictionaryStart();
        w.WriteKey("id"u8); w.WriteString(idBytes);
        w.WriteKey("nodes"u8); w.WriteString(compact);
        if (compact6.Length > 0)
        {
            w.WriteKey("nodes6"u8);
            w.WriteString(compact6);
        }
        w.WriteEnd();
        return buffer.AsSpan(0, w.BytesWritten).ToArray();
    }

    private static byte[] Compact(List<RoutingNode> nodes, int length)
    {
        var compact = new byte[nodes.Count * length];
        for (int i = 0; i < nodes.Count; i++)
        {
            var slot = compact.AsSpan(i * length, length);
            nodes[i].Id.CopyTo(slot);
            nodes[i].Address.Write(slot[CompactNode.IdLength..]);
        }
        return compact;
    }

    /// <summary>Null when the bytes are not a state file we wrote.</summary>
    public static RoutingTableState? Decode(ReadOnlySpan<byte> bytes)
    {
        var reader = new BencodeReader(bytes, BencodeLimits.Default with { MaxStringLength = MaxNodes * CompactNode.V6Length });
        if (!reader.Read() || reader.TokenType != BencodeTokenType.DictionaryStart) return null;
        NodeId? id = null;
        var nodes = new List<(NodeId, CompactPeer)>();
        while (reader.Read() && reader.TokenType != BencodeTokenType.End)
        {
            var key = reader.ValueSpan;
            if (key.SequenceEqual("id"u8))
            {
                if (!reader.TryReadString(out var value) || value.Length != NodeId.Length) return null;
                id = new NodeId(value);
            }
            else if (key.SequenceEqual("nodes"u8) || key.SequenceEqual("nodes6"u8))
            {
                bool ipv6 = key.Length == 6;
                int length = CompactNode.LengthFor(ipv6);
                if (!reader.TryReadString(out var value) || value.Length % length != 0) return null;
                for (int i = 0; i < value.Length; i += length)
                {
                    var entry = value.Slice(i, length);
                    var address = entry[CompactNode.IdLength..];
                    nodes.Add((new NodeId(entry[..CompactNode.IdLength]), ipv6 ? CompactPeer.ReadV6(address) : CompactPeer.Read(address)));
                }
            }
            else if (!reader.ReadAndSkipValue())
            {
                return null;
            }
        }
        reader.Read();
        if (reader.Error.IsError || !reader.IsComplete || id is null) return null;
        return new RoutingTableState(id.Value, nodes);
    }

}

/// <summary>The routing table file in the state folder.</summary>
public static class RoutingTableFile
{
    public static RoutingTableState? Load(string path)
    {
        if (!File.Exists(path)) return null;
        var bytes = File.ReadAllBytes(path);
        return RoutingTableState.Decode(bytes) ?? throw new InvalidDataException("not a DHT state file");
    }

    /// <summary>Writes through a temporary file and a rename, so a crash never leaves half a file.</summary>
    public static void Save(string path, NodeId id, IEnumerable<RoutingNode> nodes)
    {
        string? folder = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        string temporary = path + ".tmp";
        File.WriteAllBytes(temporary, RoutingTableState.Encode(id, nodes));
        File.Move(temporary, path, overwrite: true);
    }
}
