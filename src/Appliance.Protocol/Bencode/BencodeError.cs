namespace Appliance.Protocol.Bencode;

/// <summary>Why a bencoded document was refused.</summary>
public enum BencodeErrorKind : byte
{
    None = 0,
    UnexpectedEnd,
    UnexpectedByte,
    InvalidInteger,
    IntegerLeadingZero,
    NegativeZero,
    IntegerOverflow,
    InvalidStringLength,
    StringTooLong,
    StringBeyondEnd,
    DictionaryKeyNotString,
    DictionaryKeysUnsorted,
    DictionaryKeyDuplicate,
    DictionaryMissingValue,
    NestingTooDeep,
    TooManyTokens,
    TrailingData,
}

/// <summary>A decoding error as a value: what went wrong and at which byte.</summary>
public readonly record struct BencodeError(BencodeErrorKind Kind, int Offset)
{
    public bool IsError => Kind != BencodeErrorKind.None;

    public string Describe() => Kind switch
    {
        BencodeErrorKind.UnexpectedEnd => $"input ends early at byte {Offset}",
        BencodeErrorKind.UnexpectedByte => $"unexpected byte at offset {Offset}",
        BencodeErrorKind.InvalidInteger => $"malformed integer at offset {Offset}",
        BencodeErrorKind.IntegerLeadingZero => $"integer with a leading zero at offset {Offset}",
        BencodeErrorKind.NegativeZero => $"integer -0 at offset {Offset}",
        BencodeErrorKind.IntegerOverflow => $"integer does not fit 64 bits at offset {Offset}",
        BencodeErrorKind.InvalidStringLength => $"malformed string length at offset {Offset}",
        BencodeErrorKind.StringTooLong => $"string longer than the limit at offset {Offset}",
        BencodeErrorKind.StringBeyondEnd => $"string runs past the end of input at offset {Offset}",
        BencodeErrorKind.DictionaryKeyNotString => $"dictionary key is not a string at offset {Offset}",
        BencodeErrorKind.DictionaryKeysUnsorted => $"dictionary keys not in sorted order at offset {Offset}",
        BencodeErrorKind.DictionaryKeyDuplicate => $"duplicate dictionary key at offset {Offset}",
        BencodeErrorKind.DictionaryMissingValue => $"dictionary key without a value at offset {Offset}",
        BencodeErrorKind.NestingTooDeep => $"nesting deeper than the limit at offset {Offset}",
        BencodeErrorKind.TooManyTokens => $"more values than the limit at offset {Offset}",
        BencodeErrorKind.TrailingData => $"trailing data after the value at offset {Offset}",
        _ => "no error",
    };

    public override string ToString() => Describe();
}

/// <summary>Thrown by the convenience APIs (document, metainfo) that prefer exceptions; carries the value error.</summary>
public sealed class BencodeException(BencodeError error) : FormatException("bencode: " + error.Describe())
{
    public BencodeError Error { get; } = error;
}
