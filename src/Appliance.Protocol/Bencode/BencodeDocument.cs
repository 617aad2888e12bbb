using System.Diagnostics.CodeAnalysis;

namespace Appliance.Protocol.Bencode;

/// <summary>
/// A whole bencoded value parsed once into a flat token array; <see cref="BencodeNode"/>s are views into it
/// (the libtorrent bdecode model). Used where convenience matters more than zero allocation: metainfo,
/// tracker responses, resume files.
/// </summary>
public sealed class BencodeDocument
{
    private readonly Token[] _tokens;

    private BencodeDocument(ReadOnlyMemory<byte> buffer, Token[] tokens, bool keysSorted)
    {
        Buffer = buffer;
        _tokens = tokens;
        KeysSorted = keysSorted;
    }

    public ReadOnlyMemory<byte> Buffer { get; }

    /// <summary>False when some dictionary had keys out of order (accepted under <see cref="BencodeLimits.AllowUnsortedKeys"/>).</summary>
    public bool KeysSorted { get; }

    public BencodeNode Root => new(this, 0);

    internal ref readonly Token this[int index] => ref _tokens[index];

    public static BencodeDocument Parse(ReadOnlyMemory<byte> data) => Parse(data, BencodeLimits.Default);

    public static BencodeDocument Parse(ReadOnlyMemory<byte> data, BencodeLimits limits) =>
        TryParse(data, limits, out var document, out var error) ? document : throw new BencodeException(error);

    public static bool TryParse(ReadOnlyMemory<byte> data, BencodeLimits limits,
        [NotNullWhen(true)] out BencodeDocument? document, out BencodeError error)
    {
        document = null;
        var reader = new BencodeReader(data.Span, limits);
        var tokens = new List<Token>(Math.Min(1024, data.Length / 4 + 1));
        Span<int> open = stackalloc int[BencodeLimits.HardMaxDepth];
        int depth = 0;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case BencodeTokenType.End:
                    int index = open[--depth];
                    tokens[index] = tokens[index] with { End = reader.Position, Next = tokens.Count };
                    break;
                case BencodeTokenType.ListStart:
                case BencodeTokenType.DictionaryStart:
                    open[depth++] = tokens.Count;
                    tokens.Add(new Token(reader.TokenType, reader.TokenStart, reader.TokenStart + 1, -1, 0, 0));
                    break;
                case BencodeTokenType.ByteString:
                    int valueStart = reader.Position - reader.ValueSpan.Length;
                    tokens.Add(new Token(BencodeTokenType.ByteString, reader.TokenStart, reader.Position, tokens.Count + 1, valueStart, 0));
                    break;
                case BencodeTokenType.Integer:
                    tokens.Add(new Token(BencodeTokenType.Integer, reader.TokenStart, reader.Position, tokens.Count + 1, 0, reader.Integer));
                    break;
            }
        }
        error = reader.Error;
        if (error.IsError) return false;
        if (!reader.IsComplete || tokens.Count == 0)
        {
            error = new BencodeError(BencodeErrorKind.UnexpectedEnd, data.Length);
            return false;
        }
        document = new BencodeDocument(data, tokens.ToArray(), !reader.SawUnsortedKeys);
        return true;
    }

    internal readonly record struct Token(BencodeTokenType Type, int Start, int End, int Next, int ValueStart, long Integer);
}

/// <summary>A view of one value inside a <see cref="BencodeDocument"/>.</summary>
public readonly struct BencodeNode
{
    private readonly BencodeDocument? _document;
    private readonly int _index;

    internal BencodeNode(BencodeDocument document, int index)
    {
        _document = document;
        _index = index;
    }

    public bool Exists => _document is not null;

    public BencodeKind Kind => _document is null ? BencodeKind.None : Token.Type switch
    {
        BencodeTokenType.Integer => BencodeKind.Integer,
        BencodeTokenType.ByteString => BencodeKind.ByteString,
        BencodeTokenType.ListStart => BencodeKind.List,
        BencodeTokenType.DictionaryStart => BencodeKind.Dictionary,
        _ => BencodeKind.None,
    };

    public bool IsInteger => Kind == BencodeKind.Integer;
    public bool IsString => Kind == BencodeKind.ByteString;
    public bool IsList => Kind == BencodeKind.List;
    public bool IsDictionary => Kind == BencodeKind.Dictionary;

    /// <summary>Offset of this value in the document buffer.</summary>
    public int Offset => Token.Start;

    /// <summary>The exact encoded bytes of this value (for the info-hash: SHA-1 of the raw <c>info</c>).</summary>
    public ReadOnlyMemory<byte> RawMemory => Document.Buffer[Token.Start..Token.End];
    public ReadOnlySpan<byte> RawSpan => RawMemory.Span;

    public long Integer => Kind == BencodeKind.Integer ? Token.Integer : throw WrongKind(BencodeKind.Integer);

    public ReadOnlyMemory<byte> BytesMemory => Kind == BencodeKind.ByteString
        ? Document.Buffer[Token.ValueStart..Token.End]
        : throw WrongKind(BencodeKind.ByteString);

    public ReadOnlySpan<byte> Bytes => BytesMemory.Span;

    /// <summary>The string decoded as UTF-8 (invalid sequences become U+FFFD).</summary>
    public string Utf8 => System.Text.Encoding.UTF8.GetString(Bytes);

    /// <summary>Number of items in a list or key/value pairs in a dictionary.</summary>
    public int Count
    {
        get
        {
            int n = 0;
            if (IsList) foreach (var _ in Items) n++;
            else if (IsDictionary) foreach (var _ in Entries) n++;
            else throw WrongKind(BencodeKind.List);
            return n;
        }
    }

    public ListEnumerable Items => IsList ? new ListEnumerable(this) : throw WrongKind(BencodeKind.List);

    public DictionaryEnumerable Entries => IsDictionary ? new DictionaryEnumerable(this) : throw WrongKind(BencodeKind.Dictionary);

    /// <summary>The value under <paramref name="key"/>, or a node that does not exist.</summary>
    public BencodeNode this[ReadOnlySpan<byte> key] => TryGet(key, out var value) ? value : default;

    public bool TryGet(ReadOnlySpan<byte> key, out BencodeNode value)
    {
        if (IsDictionary)
        {
            foreach (var entry in Entries)
            {
                int order = entry.Key.SequenceCompareTo(key);
                if (order == 0) { value = entry.Value; return true; }
                if (order > 0 && Document.KeysSorted) break; // keys are sorted: we are past it
            }
        }
        value = default;
        return false;
    }

    public override string ToString() => Kind switch
    {
        BencodeKind.Integer => Integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        BencodeKind.ByteString => Utf8,
        BencodeKind.List => $"list[{Count}]",
        BencodeKind.Dictionary => $"dict[{Count}]",
        _ => "(none)",
    };

    private BencodeDocument Document => _document ?? throw new InvalidOperationException("bencode value does not exist");
    private ref readonly BencodeDocument.Token Token => ref Document[_index];
    private int NextIndex => Token.Next;

    private InvalidOperationException WrongKind(BencodeKind expected) =>
        new($"bencode value at offset {(_document is null ? -1 : Token.Start)} is {Kind}, not {expected}");

    public readonly struct ListEnumerable(BencodeNode list)
    {
        public ListEnumerator GetEnumerator() => new(list);
    }

    public struct ListEnumerator(BencodeNode list)
    {
        private int _next = list._index + 1;
        private readonly int _end = list.NextIndex;

        public BencodeNode Current { get; private set; }

        public bool MoveNext()
        {
            if (_next >= _end) return false;
            Current = new BencodeNode(list.Document, _next);
            _next = list.Document[_next].Next;
            return true;
        }
    }

    public readonly struct DictionaryEnumerable(BencodeNode dictionary)
    {
        public DictionaryEnumerator GetEnumerator() => new(dictionary);
    }

    public struct DictionaryEnumerator(BencodeNode dictionary)
    {
        private int _next = dictionary._index + 1;
        private readonly int _end = dictionary.NextIndex;

        public BencodeEntry Current { get; private set; }

        public bool MoveNext()
        {
            if (_next >= _end) return false;
            int valueIndex = dictionary.Document[_next].Next;
            Current = new BencodeEntry(new BencodeNode(dictionary.Document, _next), new BencodeNode(dictionary.Document, valueIndex));
            _next = dictionary.Document[valueIndex].Next;
            return true;
        }
    }
}

/// <summary>One key/value pair of a dictionary.</summary>
public readonly record struct BencodeEntry(BencodeNode KeyNode, BencodeNode Value)
{
    public ReadOnlySpan<byte> Key => KeyNode.Bytes;
}

public enum BencodeKind : byte
{
    None = 0,
    Integer,
    ByteString,
    List,
    Dictionary,
}
