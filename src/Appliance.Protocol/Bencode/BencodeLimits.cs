namespace Appliance.Protocol.Bencode;

/// <summary>Bounds that keep hostile input from exhausting stack or memory, and how strict the key order is.</summary>
public readonly record struct BencodeLimits(int MaxDepth, int MaxStringLength, int MaxTokens)
{
    /// <summary>
    /// Accepts dictionaries whose keys are out of order. Peers, trackers and DHT nodes built on other bencode libraries
    /// send them (libtorrent reads them too), and refusing them would cost us peers and announces for no gain. A key
    /// equal to the one before it is still refused; duplicates further apart are not searched for (that would be
    /// quadratic), and a lookup then finds the first. Off for what we hash or write ourselves (.torrent and resume files).
    /// </summary>
    public bool AllowUnsortedKeys { get; init; }

    /// <summary>Nesting deeper than this is refused; the reader keeps per-level state inline, so it is also a hard cap.</summary>
    public const int HardMaxDepth = 64;

    /// <summary>Good for .torrent files and tracker responses: 32 levels, strings up to 64 MiB, 4M values.</summary>
    public static BencodeLimits Default { get; } = new(32, 64 * 1024 * 1024, 4 * 1024 * 1024);

    /// <summary>For a single UDP datagram (DHT) or a small peer-wire dictionary: shallow and small; keys in any order.</summary>
    public static BencodeLimits Datagram { get; } = new(8, 2048, 512) { AllowUnsortedKeys = true };
}
