using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Torrents;

namespace Appliance.Fuzz.PeerWire;

/// <summary>
/// The seeder's answer to a BEP 52 hash request (<see cref="MerkleHashes"/>) for a fixed v2 torrent of 32 KiB pieces:
/// one file of 11 pieces (22 leaves, 5 layers), one of 3 pieces, one of a single piece (no piece layer). Input: a byte
/// whose low two bits pick that file's pieces root (3: the root given by the next 32 bytes), then base layer, index,
/// count and proof layers (4 bytes each, big-endian). An accepted request must be answered with exactly the hashes it
/// announced; an aligned range of at least two hashes, with proof layers up to the top, must lead to the pieces root.
/// </summary>
public static class HashAnswerTarget
{
    private const int PieceLength = 32 * 1024;
    private const int PieceLayer = 1; // 32 KiB pieces over 16 KiB blocks

    // Created on first use: instrumented code must not run before SharpFuzz has set up the coverage map.
    private static TorrentMetainfo? _metainfo;
    private static MerkleHashes? _hashes;
    private static TorrentFile[]? _files; // without the pad files the parser adds for v2 alignment

    public static void Fuzz(ReadOnlySpan<byte> data) => Run(data);

    /// <summary>How many hashes the answer held, or -1 when the request was rejected.</summary>
    public static int Run(ReadOnlySpan<byte> data)
    {
        var metainfo = _metainfo ??= Torrent();
        var hashes = _hashes ??= new MerkleHashes(metainfo);
        var files = _files ??= [.. metainfo.Files.Where(f => !f.IsPad)];
        if (data.IsEmpty) return -1;
        int pick = data[0] & 3;
        data = data[1..];
        Span<byte> payload = stackalloc byte[HashRequest.PayloadLength];
        if (pick < files.Length) files[pick].PiecesRoot.Span.CopyTo(payload);
        else if (data.Length >= HashRequest.RootLength)
        {
            data[..HashRequest.RootLength].CopyTo(payload);
            data = data[HashRequest.RootLength..];
        }
        var fields = payload[HashRequest.RootLength..];
        data[..Math.Min(data.Length, fields.Length)].CopyTo(fields);
        if (!HashRequest.TryParse(payload, out var request)) throw new InvalidOperationException("a 48-byte hash request was refused");

        int count = hashes.AnswerCount(request, out _);
        if (count < 0) return -1;
        if (count < request.Count || count > request.Count + request.ProofLayers)
            throw new InvalidOperationException($"{count} hashes for a request of {request.Count} with {request.ProofLayers} proof layers");
        var answer = new byte[count * MerkleTree.HashLength];
        hashes.WriteAnswer(request, answer);
        CheckProof(files, request, answer);
        return count;
    }

    private static void CheckProof(TorrentFile[] files, in HashRequest request, ReadOnlySpan<byte> answer)
    {
        if (request.Count < 2 || !BitOperations.IsPow2(request.Count) || request.Index % request.Count != 0) return;
        var root = request.Root;
        var file = files.First(f => HashRequest.RootKey(f.PiecesRoot.Span) == root);
        int top = BitOperations.Log2((ulong)MerkleTree.Width(MerkleTree.LeafCount(file.Length)));
        if (request.BaseLayer + request.ProofLayers + 1 != top) return;

        int k = BitOperations.Log2((uint)request.Count);
        int rangeBytes = request.Count * MerkleTree.HashLength;
        Span<byte> node = stackalloc byte[MerkleTree.HashLength];
        var scratch = new byte[rangeBytes];
        MerkleTree.Root(answer[..rangeBytes], request.Count, request.BaseLayer, scratch, node);
        long offset = request.Index >> k;
        var uncles = answer[rangeBytes..];
        for (int layer = request.BaseLayer + k; layer < top; layer++, offset >>= 1)
        {
            var uncle = uncles[..MerkleTree.HashLength];
            uncles = uncles[MerkleTree.HashLength..];
            if ((offset & 1) == 0) MerkleTree.HashPair(node, uncle, node);
            else MerkleTree.HashPair(uncle, node, node);
        }
        if (!uncles.IsEmpty || !node.SequenceEqual(file.PiecesRoot.Span))
            throw new InvalidOperationException($"answer to {request.BaseLayer}/{request.Index}+{request.Count} proof {request.ProofLayers} does not lead to the pieces root");
    }

    private static TorrentMetainfo Torrent()
    {
        long[] lengths = [11L * PieceLength - 1000, 3L * PieceLength, 20_000];
        var files = new List<TorrentFile>();
        long offset = 0;
        Span<byte> seed = stackalloc byte[8];
        for (int i = 0; i < lengths.Length; i++)
        {
            int pieces = (int)((lengths[i] + PieceLength - 1) / PieceLength);
            var layer = new byte[pieces * MerkleTree.HashLength];
            for (int p = 0; p < pieces; p++)
            {
                BinaryPrimitives.WriteInt32BigEndian(seed, i);
                BinaryPrimitives.WriteInt32BigEndian(seed[4..], p);
                SHA256.HashData(seed, layer.AsSpan(p * MerkleTree.HashLength));
            }
            var root = new byte[MerkleTree.HashLength];
            var scratch = new byte[layer.Length + MerkleTree.HashLength];
            long width = MerkleTree.Width(MerkleTree.LeafCount(lengths[i])) >> PieceLayer;
            MerkleTree.Root(layer, width, PieceLayer, scratch, root);
            files.Add(new TorrentFile([$"f{i}"], lengths[i], offset)
            {
                PiecesRoot = root,
                PieceLayer = pieces > 1 ? layer : ReadOnlyMemory<byte>.Empty,
            });
            offset += (long)pieces * PieceLength;
        }
        // Written and parsed back, so the parser's own checks of the piece layers apply to the fixture too.
        var draft = new MetainfoDraft("fuzz", PieceLength, ReadOnlyMemory<byte>.Empty, files, IsMultiFile: true) { Format = TorrentFormat.V2 };
        return TorrentMetainfo.Parse(MetainfoWriter.Encode(draft));
    }
}
