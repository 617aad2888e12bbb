using System.Runtime.CompilerServices;

namespace Appliance.Protocol.Bencode;

/// <summary>
/// Forward-only, allocation-free reader over one bencoded value. Strict: it enforces the canonical form
/// (sorted unique dictionary keys, no leading zeros, no <c>-0</c>) and the <see cref="BencodeLimits"/>; key order only
/// when the limits do not <see cref="BencodeLimits.AllowUnsortedKeys"/>.
/// <see cref="Read"/> returns false at the end of the value or on the first error (<see cref="Error"/>).
/// </summary>
public ref struct BencodeReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly BencodeLimits _limits;
    private readonly bool _allowTrailingData;
    private LevelStack _levels;
    private int _depth;
    private int _position;
    private int _tokens;
    private bool _started;
    private bool _complete;

    public BencodeReader(ReadOnlySpan<byte> buffer, BencodeLimits limits, bool allowTrailingData = false)
    {
        _buffer = buffer;
        _limits = limits with { MaxDepth = Math.Min(limits.MaxDepth, BencodeLimits.HardMaxDepth) };
        _allowTrailingData = allowTrailingData;
    }

    public BencodeReader(ReadOnlySpan<byte> buffer) : this(buffer, BencodeLimits.Default) { }

    public BencodeTokenType TokenType { get; private set; }

    /// <summary>Offset of the current token's first byte.</summary>
    public int TokenStart { get; private set; }

    /// <summary>Offset just past the current token (for an <see cref="BencodeTokenType.End"/>, past its <c>e</c>).</summary>
    public readonly int Position => _position;

    /// <summary>Containers open around the current token (a container start counts itself).</summary>
    public readonly int Depth => _depth;

    /// <summary>The bytes of the current string (without its length prefix).</summary>
    public ReadOnlySpan<byte> ValueSpan { get; private set; }

    /// <summary>The current integer's value.</summary>
    public long Integer { get; private set; }

    /// <summary>True when the current string is a dictionary key.</summary>
    public bool IsKey { get; private set; }

    public BencodeError Error { get; private set; }

    /// <summary>True once a dictionary with out-of-order keys was read (only possible with <see cref="BencodeLimits.AllowUnsortedKeys"/>).</summary>
    public bool SawUnsortedKeys { get; private set; }

    /// <summary>True once the whole top-level value has been read without error.</summary>
    public readonly bool IsComplete => _complete;

    public readonly ReadOnlySpan<byte> Buffer => _buffer;

    public bool Read()
    {
        if (_complete || Error.IsError) return false;
        if (_started && _depth == 0)
        {
            _complete = true;
            if (!_allowTrailingData && _position != _buffer.Length)
                return Fail(BencodeErrorKind.TrailingData, _position);
            return false;
        }
        _started = true;
        if (++_tokens > _limits.MaxTokens) return Fail(BencodeErrorKind.TooManyTokens, _position);
        if (_position >= _buffer.Length) return Fail(BencodeErrorKind.UnexpectedEnd, _position);

        int start = _position;
        byte b = _buffer[start];
        TokenStart = start;
        IsKey = false;
        ValueSpan = default;
        bool inDictionary = _depth > 0 && _levels[_depth - 1].IsDictionary;
        bool keyPosition = inDictionary && _levels[_depth - 1].ExpectKey;

        if (b == (byte)'e')
        {
            if (_depth == 0) return Fail(BencodeErrorKind.UnexpectedByte, start);
            if (inDictionary && !keyPosition) return Fail(BencodeErrorKind.DictionaryMissingValue, start);
            _position = start + 1;
            _depth--;
            TokenType = BencodeTokenType.End;
            AfterValue();
            return true;
        }

        if (keyPosition && (uint)(b - '0') > 9)
            return Fail(BencodeErrorKind.DictionaryKeyNotString, start);

        switch (b)
        {
            case (byte)'i':
                if (!ParseInteger(start)) return false;
                TokenType = BencodeTokenType.Integer;
                AfterValue();
                return true;
            case (byte)'l':
            case (byte)'d':
                if (_depth >= _limits.MaxDepth) return Fail(BencodeErrorKind.NestingTooDeep, start);
                _levels[_depth] = new Level { IsDictionary = b == (byte)'d', ExpectKey = true, PreviousKeyStart = -1 };
                _depth++;
                _position = start + 1;
                TokenType = b == (byte)'d' ? BencodeTokenType.DictionaryStart : BencodeTokenType.ListStart;
                return true;
            default:
                if ((uint)(b - '0') > 9) return Fail(BencodeErrorKind.UnexpectedByte, start);
                if (!ParseString(start)) return false;
                TokenType = BencodeTokenType.ByteString;
                if (keyPosition)
                {
                    ref Level level = ref _levels[_depth - 1];
                    if (level.PreviousKeyStart >= 0)
                    {
                        int order = _buffer.Slice(level.PreviousKeyStart, level.PreviousKeyLength).SequenceCompareTo(ValueSpan);
                        if (order == 0) return Fail(BencodeErrorKind.DictionaryKeyDuplicate, start);
                        if (order > 0)
                        {
                            if (!_limits.AllowUnsortedKeys) return Fail(BencodeErrorKind.DictionaryKeysUnsorted, start);
                            SawUnsortedKeys = true;
                        }
                    }
                    level.PreviousKeyStart = _position - ValueSpan.Length;
                    level.PreviousKeyLength = ValueSpan.Length;
                    level.ExpectKey = false;
                    IsKey = true;
                }
                else
                {
                    AfterValue();
                }
                return true;
        }
    }

    /// <summary>
    /// Skips the value at the current token: a no-op for scalars, and for a container start reads
    /// through its matching end. Returns false on error.
    /// </summary>
    public bool Skip()
    {
        if (TokenType is not (BencodeTokenType.ListStart or BencodeTokenType.DictionaryStart)) return !Error.IsError;
        int target = _depth - 1;
        while (Read())
        {
            if (TokenType == BencodeTokenType.End && _depth == target) return true;
        }
        return false;
    }

    /// <summary>Reads the next token, which must be a value, and skips it whole.</summary>
    public bool ReadAndSkipValue() => Read() && TokenType != BencodeTokenType.End && Skip();

    /// <summary>Reads the next token and returns its string when it is one.</summary>
    public bool TryReadString(out ReadOnlySpan<byte> value)
    {
        if (Read() && TokenType == BencodeTokenType.ByteString) { value = ValueSpan; return true; }
        value = default;
        return false;
    }

    /// <summary>Reads the next token and returns its integer when it is one.</summary>
    public bool TryReadInteger(out long value)
    {
        if (Read() && TokenType == BencodeTokenType.Integer) { value = Integer; return true; }
        value = 0;
        return false;
    }

    private void AfterValue()
    {
        if (_depth > 0 && _levels[_depth - 1].IsDictionary) _levels[_depth - 1].ExpectKey = true;
    }

    private bool ParseInteger(int start)
    {
        int p = start + 1;
        bool negative = false;
        if (p < _buffer.Length && _buffer[p] == (byte)'-') { negative = true; p++; }
        int digitsStart = p;
        ulong magnitude = 0;
        while (p < _buffer.Length && (uint)(_buffer[p] - '0') <= 9)
        {
            ulong next = magnitude * 10 + (uint)(_buffer[p] - '0');
            if (magnitude > (ulong.MaxValue / 10) || next < magnitude) return Fail(BencodeErrorKind.IntegerOverflow, start);
            magnitude = next;
            p++;
        }
        if (p >= _buffer.Length) return Fail(BencodeErrorKind.UnexpectedEnd, p);
        if (_buffer[p] != (byte)'e' || p == digitsStart) return Fail(BencodeErrorKind.InvalidInteger, start);
        if (_buffer[digitsStart] == (byte)'0' && p - digitsStart > 1) return Fail(BencodeErrorKind.IntegerLeadingZero, start);
        if (negative && magnitude == 0) return Fail(BencodeErrorKind.NegativeZero, start);
        if (negative ? magnitude > (ulong)long.MaxValue + 1 : magnitude > long.MaxValue)
            return Fail(BencodeErrorKind.IntegerOverflow, start);
        Integer = negative ? (long)(0 - magnitude) : (long)magnitude;
        ValueSpan = _buffer[digitsStart..p];
        _position = p + 1;
        return true;
    }

    private bool ParseString(int start)
    {
        int p = start;
        long length = 0;
        while (p < _buffer.Length && (uint)(_buffer[p] - '0') <= 9)
        {
            if (p - start >= 10) return Fail(BencodeErrorKind.StringTooLong, start);
            length = length * 10 + (_buffer[p] - '0');
            p++;
        }
        if (p >= _buffer.Length) return Fail(BencodeErrorKind.UnexpectedEnd, p);
        if (_buffer[p] != (byte)':') return Fail(BencodeErrorKind.InvalidStringLength, start);
        if (_buffer[start] == (byte)'0' && p - start > 1) return Fail(BencodeErrorKind.InvalidStringLength, start);
        if (length > _limits.MaxStringLength) return Fail(BencodeErrorKind.StringTooLong, start);
        p++;
        if (length > _buffer.Length - p) return Fail(BencodeErrorKind.StringBeyondEnd, start);
        ValueSpan = _buffer.Slice(p, (int)length);
        _position = p + (int)length;
        return true;
    }

    private bool Fail(BencodeErrorKind kind, int offset)
    {
        Error = new BencodeError(kind, offset);
        TokenType = BencodeTokenType.None;
        return false;
    }

    private struct Level
    {
        public int PreviousKeyStart;
        public int PreviousKeyLength;
        public bool IsDictionary;
        public bool ExpectKey;
    }

    [InlineArray(BencodeLimits.HardMaxDepth)]
    private struct LevelStack
    {
        private Level _element;
    }
}
