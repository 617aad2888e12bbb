namespace Appliance.Protocol.Metainfo;

/// <summary>One file of a torrent: its safe relative path, its size, and where it starts in the torrent's byte stream.</summary>
public sealed record TorrentFile(IReadOnlyList<string> PathSegments, long Length, long Offset)
{
    /// <summary>The relative path with '/' separators (for a single-file torrent, the torrent's name).</summary>
    public string Path { get; } = string.Join('/', PathSegments);

    public long End => Offset + Length;
}
