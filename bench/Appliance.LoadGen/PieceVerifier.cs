using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;

namespace Appliance.LoadGen;

/// <summary>
/// Checks one piece fed block by block. Hashing: blocks that arrive in order are hashed straight from the receive
/// buffer; a block that arrives early is parked in a stash until the gap before it fills. With a
/// <see cref="VerifiedCopy"/> a piece already verified in this run is instead compared block by block with that copy
/// (any order), and a piece hashed here is published to it when its SHA-1 matches. With <see cref="BlockDigests"/> every
/// block is checked against its CRC-32C as it arrives (any order) and nothing is hashed or kept.
/// </summary>
public sealed class PieceVerifier(VerifiedCopy? copy = null, BlockDigests? digests = null) : IDisposable
{
    private readonly IncrementalHash _sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
    private readonly byte[] _digest = new byte[InfoHash.Length];
    private byte[]? _stash;
    private bool[]? _parked;
    private int _size;
    private int _nextOffset;
    private int _blocksLeft;
    private bool _mismatch;

    public int Piece { get; private set; } = -1;

    /// <summary>True when this piece is checked against the verified copy or the block digests rather than hashed.</summary>
    public bool Comparing { get; private set; }

    public void Start(int piece, int size)
    {
        Piece = piece;
        _size = size;
        _nextOffset = 0;
        _mismatch = false;
        _blocksLeft = (size + LoadOptions.BlockLength - 1) / LoadOptions.BlockLength;
        Comparing = digests is not null || (copy is not null && copy.IsVerified(piece));
        if (_parked is null || _parked.Length < _blocksLeft) _parked = new bool[_blocksLeft];
        else Array.Clear(_parked);
        // Hashing for a verified copy keeps every block, to publish the piece once its hash matches.
        if (copy is not null && !Comparing) EnsureStash();
    }

    public void Abandon()
    {
        if (_nextOffset > 0) _sha1.GetHashAndReset();
        Piece = -1;
    }

    public enum Outcome { Pending, Verified, Failed, Duplicate }

    public Outcome Feed(int begin, ReadOnlySpan<byte> block, ReadOnlySpan<byte> expectedHash) =>
        Comparing ? Compare(begin, block) : Hash(begin, block, expectedHash);

    private Outcome Compare(int begin, ReadOnlySpan<byte> block)
    {
        if (begin % LoadOptions.BlockLength != 0 || begin + block.Length > _size) return Outcome.Duplicate;
        var slot = begin / LoadOptions.BlockLength;
        if (_parked![slot]) return Outcome.Duplicate;
        _parked[slot] = true;
        var matches = digests is not null ? digests.Matches(Piece, begin, block) : block.SequenceEqual(copy!.Slice(Piece, begin, block.Length));
        if (!matches) _mismatch = true;
        if (--_blocksLeft > 0) return Outcome.Pending;
        Piece = -1;
        return _mismatch ? Outcome.Failed : Outcome.Verified;
    }

    private Outcome Hash(int begin, ReadOnlySpan<byte> block, ReadOnlySpan<byte> expectedHash)
    {
        if (begin < _nextOffset || begin + block.Length > _size) return Outcome.Duplicate;
        if (begin > _nextOffset)
        {
            EnsureStash();
            var slot = begin / LoadOptions.BlockLength;
            if (_parked![slot]) return Outcome.Duplicate;
            block.CopyTo(_stash.AsSpan(begin));
            _parked[slot] = true;
            return Outcome.Pending;
        }

        _sha1.AppendData(block);
        if (copy is not null) block.CopyTo(_stash.AsSpan(begin));
        _nextOffset += block.Length;
        while (_nextOffset < _size && _parked![_nextOffset / LoadOptions.BlockLength])
        {
            var slot = _nextOffset / LoadOptions.BlockLength;
            _parked[slot] = false;
            var length = Math.Min(LoadOptions.BlockLength, _size - _nextOffset);
            _sha1.AppendData(_stash!, _nextOffset, length);
            _nextOffset += length;
        }
        if (_nextOffset < _size) return Outcome.Pending;

        _sha1.GetHashAndReset(_digest);
        _nextOffset = 0;
        var piece = Piece;
        Piece = -1;
        if (!_digest.AsSpan().SequenceEqual(expectedHash)) return Outcome.Failed;
        copy?.Publish(piece, _stash.AsSpan(0, _size));
        return Outcome.Verified;
    }

    private void EnsureStash()
    {
        if (_stash is null || _stash.Length < _size) _stash = new byte[_size];
    }

    public void Dispose() => _sha1.Dispose();
}
