using System.Buffers.Text;
using System.Runtime.CompilerServices;

namespace Appliance.Protocol.Bencode;

/// <summary>
/// Allocation-free encoder into a caller's span. Dictionary keys must be written in sorted order
/// (the canonical form); a key out of order is a bug in the caller and throws.
/// </summary>
public ref struct BencodeWriter
{
    private readonly Span<byte> _destination;
    private KeyStack _keys;
    private int _depth;
    private int _position;

    public BencodeWriter(Span<byte> destination) => _destination = destination;

    public readonly int BytesWritten => _position;

    public readonly ReadOnlySpan<byte> Written => _destination[.._position];

    public readonly int Depth => _depth;

    public void WriteInteger(long value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out int n);
        Ensure(n + 2);
        _destination[_position++] = (byte)'i';
        digits[..n].CopyTo(_destination[_position..]);
        _position += n;
        _destination[_position++] = (byte)'e';
    }

    public void WriteString(scoped ReadOnlySpan<byte> value)
    {
        Ensure(DigitCount(value.Length) + 1 + value.Length);
        Utf8Formatter.TryFormat(value.Length, _destination[_position..], out int n);
        _position += n;
        _destination[_position++] = (byte)':';
        value.CopyTo(_destination[_position..]);
        _position += value.Length;
    }

    public void WriteString(string value)
    {
        int length = System.Text.Encoding.UTF8.GetByteCount(value);
        Ensure(DigitCount(length) + 1 + length);
        Utf8Formatter.TryFormat(length, _destination[_position..], out int n);
        _position += n;
        _destination[_position++] = (byte)':';
        _position += System.Text.Encoding.UTF8.GetBytes(value, _destination[_position..]);
    }

    /// <summary>Writes a dictionary key, checking it sorts after the previous key of the same dictionary.</summary>
    public void WriteKey(scoped ReadOnlySpan<byte> key)
    {
        if (_depth == 0 || _keys[_depth - 1].Start == -2)
            throw new InvalidOperationException("bencode key written outside a dictionary");
        ref var previous = ref _keys[_depth - 1];
        if (previous.Start >= 0 && _destination.Slice(previous.Start, previous.Length).SequenceCompareTo(key) >= 0)
            throw new InvalidOperationException($"bencode key '{System.Text.Encoding.UTF8.GetString(key)}' is not after the previous key");
        WriteString(key);
        previous = new Key(_position - key.Length, key.Length);
    }

    public void WriteKey(string key)
    {
        Span<byte> buffer = key.Length <= 64 ? stackalloc byte[key.Length * 3] : new byte[key.Length * 3];
        WriteKey(buffer[..System.Text.Encoding.UTF8.GetBytes(key, buffer)]);
    }

    public void WriteListStart() => Open((byte)'l', isDictionary: false);

    public void WriteDictionaryStart() => Open((byte)'d', isDictionary: true);

    public void WriteEnd()
    {
        if (_depth == 0) throw new InvalidOperationException("bencode end without an open container");
        Ensure(1);
        _destination[_position++] = (byte)'e';
        _depth--;
    }

    /// <summary>Copies an already-encoded value (for example the exact <c>info</c> dictionary).</summary>
    public void WriteRaw(scoped ReadOnlySpan<byte> encoded)
    {
        Ensure(encoded.Length);
        encoded.CopyTo(_destination[_position..]);
        _position += encoded.Length;
    }

    private void Open(byte marker, bool isDictionary)
    {
        if (_depth >= BencodeLimits.HardMaxDepth) throw new InvalidOperationException("bencode nesting too deep");
        Ensure(1);
        _destination[_position++] = marker;
        _keys[_depth++] = new Key(isDictionary ? -1 : -2, 0);
    }

    private static int DigitCount(int value)
    {
        int digits = 1;
        while (value >= 10) { value /= 10; digits++; }
        return digits;
    }

    private readonly void Ensure(int bytes)
    {
        if (_destination.Length - _position < bytes) ThrowTooSmall();
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowTooSmall() => throw new InvalidOperationException("bencode destination buffer is too small");

    private readonly record struct Key(int Start, int Length);

    [InlineArray(BencodeLimits.HardMaxDepth)]
    private struct KeyStack
    {
        private Key _element;
    }
}
