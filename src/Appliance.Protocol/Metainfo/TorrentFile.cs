namespace Appliance.Protocol.Metainfo;

/// <summary>One file of a torrent: its safe relative path, its size, and where it starts in the torrent's byte stream.</summary>
public sealed record TorrentFile(IReadOnlyList<string> PathSegments, long Length, long Offset)
{
    /// <summary>The relative path with '/' separators (for a single-file torrent, the torrent's name).</summary>
    public string Path { get; } = string.Join('/', PathSegments);

    public long End => Offset + Length;

    /// <summary>BEP 47 attributes; a pad file (<see cref="TorrentFileAttributes.Pad"/>) is zeros and never on disk.</summary>
    public TorrentFileAttributes Attributes { get; init; }

    public bool IsPad => (Attributes & TorrentFileAttributes.Pad) != 0;

    /// <summary>BEP 52: the SHA-256 merkle root of the file's 16 KiB blocks (32 bytes; empty for v1-only and empty files).</summary>
    public ReadOnlyMemory<byte> PiecesRoot { get; init; }

    /// <summary>BEP 52: the file's piece layer (32 bytes per piece), present for files longer than one piece.</summary>
    public ReadOnlyMemory<byte> PieceLayer { get; init; }
}

/// <summary>The BEP 47 <c>attr</c> letters we keep. Symlinks (<c>l</c>) are refused at parse time, never followed.</summary>
[Flags]
public enum TorrentFileAttributes : byte
{
    None = 0,
    Pad = 1,
    Executable = 2,
    Hidden = 4,
}
