using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;

namespace Appliance.LoadGen;

/// <summary>
/// SHA-1 of one piece fed block by block. Blocks that arrive in order are hashed straight from the
/// receive buffer; a block that arrives early is parked in a stash until the gap before it fills.
/// </summary>
public sealed class PieceVerifier : IDisposable
{
    private readonly IncrementalHash _sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
    private readonly byte[] _digest = new byte[InfoHash.Length];
    private byte[]? _stash;
    private bool[]? _parked;
    private int _size;
    private int _nextOffset;

    public int Piece { get; private set; } = -1;

    public void Start(int piece, int size)
    {
        Piece = piece;
        _size = size;
        _nextOffset = 0;
        if (_parked is not null) Array.Clear(_parked);
    }

    public void Abandon()
    {
        if (_nextOffset > 0) _sha1.GetHashAndReset();
        Piece = -1;
    }

    public enum Outcome { Pending, Verified, Failed, Duplicate }

    public Outcome Feed(int begin, ReadOnlySpan<byte> block, ReadOnlySpan<byte> expectedHash)
    {
        if (begin < _nextOffset || begin + block.Length > _size) return Outcome.Duplicate;
        if (begin > _nextOffset)
        {
            _stash ??= new byte[_size];
            if (_stash.Length < _size) _stash = new byte[_size];
            _parked ??= new bool[(_stash.Length + LoadOptions.BlockLength - 1) / LoadOptions.BlockLength];
            if (_parked.Length * LoadOptions.BlockLength < _size) _parked = new bool[(_size + LoadOptions.BlockLength - 1) / LoadOptions.BlockLength];
            var slot = begin / LoadOptions.BlockLength;
            if (_parked[slot]) return Outcome.Duplicate;
            block.CopyTo(_stash.AsSpan(begin));
            _parked[slot] = true;
            return Outcome.Pending;
        }

        _sha1.AppendData(block);
        _nextOffset += block.Length;
        while (_parked is not null && _nextOffset < _size && _parked[_nextOffset / LoadOptions.BlockLength])
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
        Piece = -1;
        return _digest.AsSpan().SequenceEqual(expectedHash) ? Outcome.Verified : Outcome.Failed;
    }

    public void Dispose() => _sha1.Dispose();
}
