namespace Appliance.Protocol.Bencode;

/// <summary>Bounds that keep hostile input from exhausting stack or memory.</summary>
public readonly record struct BencodeLimits(int MaxDepth, int MaxStringLength, int MaxTokens)
{
    /// <summary>Nesting deeper than this is refused; the reader keeps per-level state inline, so it is also a hard cap.</summary>
    public const int HardMaxDepth = 64;

    /// <summary>Good for .torrent files and tracker responses: 32 levels, strings up to 64 MiB, 4M values.</summary>
    public static BencodeLimits Default { get; } = new(32, 64 * 1024 * 1024, 4 * 1024 * 1024);

    /// <summary>For a single UDP datagram (DHT): shallow and small.</summary>
    public static BencodeLimits Datagram { get; } = new(8, 2048, 512);
}
