using System.Numerics;
using System.Security.Cryptography;

namespace Appliance.Protocol.Metainfo;

/// <summary>
/// BEP 52 merkle trees: SHA-256 over 16 KiB blocks, binary, padded to a power of two. Padding leaves are 32 zero bytes,
/// so a padding node one level up is SHA-256 of two zero hashes, and so on. Layers here count from the leaves (0).
/// </summary>
public static class MerkleTree
{
    public const int BlockSize = 16 * 1024;
    public const int HashLength = 32;

    /// <summary>Deepest layer anyone needs: 2^63 leaves is past any file we accept.</summary>
    private const int MaxLayers = 64;

    private static readonly byte[] PadHashes = ComputePadHashes();

    /// <summary>The hash of a subtree of only padding at <paramref name="layer"/> (0 = a padding leaf: zeros).</summary>
    public static ReadOnlySpan<byte> PadHash(int layer) => PadHashes.AsSpan(layer * HashLength, HashLength);

    public static int LeafCount(long fileLength) => (int)Math.Min((fileLength + BlockSize - 1) / BlockSize, int.MaxValue);

    /// <summary>The smallest power of two at least <paramref name="count"/> (1 for 0).</summary>
    public static long Width(long count) => count <= 1 ? 1 : (long)BitOperations.RoundUpToPowerOf2((ulong)count);

    public static void HashPair(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> destination)
    {
        Span<byte> pair = stackalloc byte[2 * HashLength];
        left.CopyTo(pair);
        right.CopyTo(pair[HashLength..]);
        SHA256.HashData(pair, destination);
    }

    /// <summary>
    /// The root over <paramref name="hashes"/> (count × 32 bytes at <paramref name="layer"/>), padded on the right to
    /// <paramref name="width"/> nodes (a power of two at least count). <paramref name="scratch"/> needs (count + 1) / 2 × 32 bytes.
    /// </summary>
    public static void Root(ReadOnlySpan<byte> hashes, long width, int layer, Span<byte> scratch, Span<byte> root)
    {
        int count = hashes.Length / HashLength;
        if (count == 0) { PadHash(layer + BitOperations.Log2((ulong)width)).CopyTo(root); return; }
        if (count == 1 && width == 1) { hashes[..HashLength].CopyTo(root); return; }
        ReadOnlySpan<byte> current = hashes;
        while (width > 1)
        {
            int next = (count + 1) / 2;
            for (int i = 0; i < next; i++)
            {
                var left = current.Slice(2 * i * HashLength, HashLength);
                var right = 2 * i + 1 < count ? current.Slice((2 * i + 1) * HashLength, HashLength) : PadHash(layer);
                HashPair(left, right, scratch.Slice(i * HashLength, HashLength));
            }
            current = scratch[..(next * HashLength)];
            count = next;
            width >>= 1;
            layer++;
        }
        current[..HashLength].CopyTo(root);
    }

    /// <summary>
    /// <paramref name="hashes"/> (at layer <paramref name="baseLayer"/>, padded to <paramref name="width"/> nodes) and every
    /// layer above, each holding only its real nodes (padding is implied): what a seeder needs to answer BEP 52 hash
    /// requests from a piece layer.
    /// </summary>
    public static byte[][] Layers(ReadOnlySpan<byte> hashes, long width, int baseLayer)
    {
        int levels = BitOperations.Log2((ulong)width) + 1;
        var layers = new byte[levels][];
        layers[0] = hashes.ToArray();
        for (int l = 1; l < levels; l++)
        {
            var below = layers[l - 1];
            int count = below.Length / HashLength;
            int next = (count + 1) / 2;
            var layer = new byte[next * HashLength];
            for (int i = 0; i < next; i++)
            {
                var left = below.AsSpan(2 * i * HashLength, HashLength);
                var right = 2 * i + 1 < count ? below.AsSpan((2 * i + 1) * HashLength, HashLength) : PadHash(baseLayer + l - 1);
                HashPair(left, right, layer.AsSpan(i * HashLength, HashLength));
            }
            layers[l] = layer;
        }
        return layers;
    }

    private static byte[] ComputePadHashes()
    {
        var pads = new byte[MaxLayers * HashLength];
        for (int l = 1; l < MaxLayers; l++)
        {
            var below = pads.AsSpan((l - 1) * HashLength, HashLength);
            HashPair(below, below, pads.AsSpan(l * HashLength, HashLength));
        }
        return pads;
    }
}
