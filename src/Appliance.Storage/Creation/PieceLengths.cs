namespace Appliance.Storage.Creation;

/// <summary>
/// Default piece length by total size, the same steps transmission-create uses up to 2 GiB, extended upward so
/// big content keeps its piece count (and the .torrent) small: about 1,000 to 4,000 pieces above 2 GiB.
/// </summary>
public static class PieceLengths
{
    private const long KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

    public static IReadOnlyList<(long BelowBytes, int PieceLength)> Table { get; } =
    [
        (50 * MiB, (int)(32 * KiB)),
        (150 * MiB, (int)(64 * KiB)),
        (350 * MiB, (int)(128 * KiB)),
        (512 * MiB, (int)(256 * KiB)),
        (1 * GiB, (int)(512 * KiB)),
        (2 * GiB, (int)(1 * MiB)),
        (8 * GiB, (int)(2 * MiB)),
        (32 * GiB, (int)(4 * MiB)),
        (128 * GiB, (int)(8 * MiB)),
        (long.MaxValue, (int)(16 * MiB)),
    ];

    public static int ForTotalSize(long totalBytes)
    {
        foreach (var (below, pieceLength) in Table)
        {
            if (totalBytes < below) return pieceLength;
        }
        return Table[^1].PieceLength;
    }
}
