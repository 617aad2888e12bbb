using System.Numerics;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;

namespace Appliance.Seeding.Torrents;

/// <summary>
/// Answers BEP 52 hash requests for one v2 or hybrid torrent from its piece layers: the requested hashes at or above the
/// piece layer, plus uncle hashes up the tree. Lower layers (single blocks) are not kept, so those requests get a reject,
/// as do requests outside the file's tree. A file's upper layers are built once, on the first request that needs them.
/// </summary>
internal sealed class MerkleHashes
{
    /// <summary>Same cap as libtorrent: more hashes than this in one request is refused.</summary>
    public const int MaxCount = 8192;

    private readonly TorrentMetainfo _metainfo;
    private readonly Dictionary<(ulong, ulong, ulong, ulong), int> _fileByRoot = [];
    private readonly byte[][]?[] _layers; // built on demand; two sessions racing build equal copies
    private readonly int _pieceLayer;

    public MerkleHashes(TorrentMetainfo metainfo)
    {
        _metainfo = metainfo;
        _pieceLayer = BitOperations.Log2((uint)(metainfo.PieceLength / MerkleTree.BlockSize));
        for (int i = 0; i < metainfo.Files.Count; i++)
        {
            var file = metainfo.Files[i];
            if (!file.PieceLayer.IsEmpty) _fileByRoot.TryAdd(HashRequest.RootKey(file.PiecesRoot.Span), i);
        }
        _layers = new byte[][]?[metainfo.Files.Count];
    }

    /// <summary>How many hashes the answer holds, or -1 when the request must be rejected, and then <paramref name="reason"/> says why.</summary>
    public int AnswerCount(in HashRequest request, out HashRejectReason reason)
    {
        reason = default;
        if (!_fileByRoot.TryGetValue(request.Root, out int fileIndex)) return Reject(HashRejectReason.UnknownRoot, out reason);
        long numLeafs = MerkleTree.Width(MerkleTree.LeafCount(_metainfo.Files[fileIndex].Length));
        int numLayers = BitOperations.Log2((ulong)numLeafs);
        if (request.BaseLayer < 0 || request.BaseLayer >= numLayers) return Reject(HashRejectReason.BadLayer, out reason);
        if (request.BaseLayer < _pieceLayer) return Reject(HashRejectReason.BelowPieceLayer, out reason);
        if (request.Count > MaxCount) return Reject(HashRejectReason.TooMany, out reason);
        if (request.Index < 0 || request.Count <= 0 || request.ProofLayers < 0) return Reject(HashRejectReason.OutOfRange, out reason);
        long layerSize = numLeafs >> request.BaseLayer;
        if (request.Index >= layerSize || (long)request.Index + request.Count > layerSize) return Reject(HashRejectReason.OutOfRange, out reason);
        if (request.ProofLayers >= numLayers - request.BaseLayer) return Reject(HashRejectReason.OutOfRange, out reason);
        return request.Count + Math.Max(0, request.ProofLayers - Math.Max(0, CoveredLayers(request.Count)));
    }

    private static int Reject(HashRejectReason why, out HashRejectReason reason)
    {
        reason = why;
        return -1;
    }

    /// <summary>Writes the <see cref="AnswerCount"/> hashes (32 bytes each): the range, then one uncle per proof layer above it.</summary>
    public void WriteAnswer(in HashRequest request, Span<byte> destination)
    {
        int fileIndex = _fileByRoot[request.Root];
        var layers = _layers[fileIndex] ??= Build(fileIndex);
        int written = 0;
        for (int i = 0; i < request.Count; i++) Node(layers, request.BaseLayer, request.Index + i).CopyTo(destination[(written++ * MerkleTree.HashLength)..]);
        int covered = CoveredLayers(request.Count);
        int layer = request.BaseLayer;
        long offset = request.Index;
        for (int i = 0; i < request.ProofLayers; i++)
        {
            layer++;
            offset >>= 1;
            if (i >= covered) Node(layers, layer, offset ^ 1).CopyTo(destination[(written++ * MerkleTree.HashLength)..]);
        }
    }

    // As libtorrent counts it (its peers check our answers that way): the layers above the base that the range of `count`
    // hashes computes by itself, less one; uncles start at the first proof layer at or past it. -1 for a single hash.
    private static int CoveredLayers(int count) => BitOperations.Log2((ulong)MerkleTree.Width(count)) - 1;

    private ReadOnlySpan<byte> Node(byte[][] layers, int layer, long offset)
    {
        var hashes = layers[layer - _pieceLayer];
        long start = offset * MerkleTree.HashLength;
        return start < hashes.Length ? hashes.AsSpan((int)start, MerkleTree.HashLength) : MerkleTree.PadHash(layer);
    }

    private byte[][] Build(int fileIndex)
    {
        var file = _metainfo.Files[fileIndex];
        long pieces = file.PieceLayer.Length / MerkleTree.HashLength;
        return MerkleTree.Layers(file.PieceLayer.Span, MerkleTree.Width(pieces), _pieceLayer);
    }
}
