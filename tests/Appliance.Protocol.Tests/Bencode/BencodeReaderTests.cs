using System.Text;
using Appliance.Protocol.Bencode;
using Appliance.TestKit;

namespace Appliance.Protocol.Tests.Bencode;

public class BencodeReaderTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    [Theory]
    [InlineData("i0e", 0L)]
    [InlineData("i42e", 42L)]
    [InlineData("i-42e", -42L)]
    [InlineData("i9223372036854775807e", long.MaxValue)]
    [InlineData("i-9223372036854775808e", long.MinValue)]
    public void Reads_canonical_integers(string text, long expected)
    {
        var reader = new BencodeReader(B(text));
        Assert.True(reader.Read());
        Assert.Equal(BencodeTokenType.Integer, reader.TokenType);
        Assert.Equal(expected, reader.Integer);
        Assert.False(reader.Read());
        Assert.True(reader.IsComplete);
        Assert.False(reader.Error.IsError);
    }

    [Theory]
    [InlineData("i03e", BencodeErrorKind.IntegerLeadingZero, 0)]
    [InlineData("i-0e", BencodeErrorKind.NegativeZero, 0)]
    [InlineData("ie", BencodeErrorKind.InvalidInteger, 0)]
    [InlineData("i-e", BencodeErrorKind.InvalidInteger, 0)]
    [InlineData("i1x", BencodeErrorKind.InvalidInteger, 0)]
    [InlineData("i12", BencodeErrorKind.UnexpectedEnd, 3)]
    [InlineData("i9223372036854775808e", BencodeErrorKind.IntegerOverflow, 0)]
    [InlineData("i99999999999999999999999e", BencodeErrorKind.IntegerOverflow, 0)]
    [InlineData("03:abc", BencodeErrorKind.InvalidStringLength, 0)]
    [InlineData("5:abc", BencodeErrorKind.StringBeyondEnd, 0)]
    [InlineData("3abc", BencodeErrorKind.InvalidStringLength, 0)]
    [InlineData("99999999999:a", BencodeErrorKind.StringTooLong, 0)]
    [InlineData("d1:bi1e1:ai2ee", BencodeErrorKind.DictionaryKeysUnsorted, 7)]
    [InlineData("d1:ai1e1:ai2ee", BencodeErrorKind.DictionaryKeyDuplicate, 7)]
    [InlineData("di1ei2ee", BencodeErrorKind.DictionaryKeyNotString, 1)]
    [InlineData("d1:ae", BencodeErrorKind.DictionaryMissingValue, 4)]
    [InlineData("l", BencodeErrorKind.UnexpectedEnd, 1)]
    [InlineData("e", BencodeErrorKind.UnexpectedByte, 0)]
    [InlineData("x", BencodeErrorKind.UnexpectedByte, 0)]
    [InlineData("i1ei2e", BencodeErrorKind.TrailingData, 3)]
    [InlineData("", BencodeErrorKind.UnexpectedEnd, 0)]
    public void Refuses_non_canonical_or_malformed_input_naming_the_offset(string text, BencodeErrorKind kind, int offset)
    {
        var reader = new BencodeReader(B(text));
        while (reader.Read()) { }
        Assert.Equal(new BencodeError(kind, offset), reader.Error);
        Assert.Contains(offset.ToString(System.Globalization.CultureInfo.InvariantCulture), reader.Error.Describe(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("d1:bi1e1:ai2ee")]
    [InlineData("d1:zd1:yi1e1:xi2ee1:ai3ee")]
    public void Unsorted_keys_are_read_when_the_limits_allow_them(string text)
    {
        var reader = new BencodeReader(B(text), BencodeLimits.Default with { AllowUnsortedKeys = true });
        while (reader.Read()) { }
        Assert.False(reader.Error.IsError, reader.Error.Describe());
        Assert.True(reader.IsComplete);
        Assert.True(reader.SawUnsortedKeys);
    }

    [Fact]
    public void A_repeated_key_is_refused_even_when_unsorted_keys_are_allowed()
    {
        var reader = new BencodeReader(B("d1:bi1e1:bi2ee"), BencodeLimits.Datagram);
        while (reader.Read()) { }
        Assert.Equal(new BencodeError(BencodeErrorKind.DictionaryKeyDuplicate, 7), reader.Error);
    }

    [Fact]
    public void Sorted_input_does_not_count_as_unsorted()
    {
        var reader = new BencodeReader(B("d1:ai1e1:bd1:xi1e1:yi2eee"), BencodeLimits.Datagram);
        while (reader.Read()) { }
        Assert.True(reader.IsComplete);
        Assert.False(reader.SawUnsortedKeys);
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_refused_without_recursion()
    {
        byte[] deep = B(new string('l', 100_000) + new string('e', 100_000));
        var reader = new BencodeReader(deep, BencodeLimits.Default);
        while (reader.Read()) { }
        Assert.Equal(BencodeErrorKind.NestingTooDeep, reader.Error.Kind);
        Assert.Equal(BencodeLimits.Default.MaxDepth, reader.Error.Offset);
    }

    [Fact]
    public void Token_count_limit_bounds_work_on_huge_flat_lists()
    {
        byte[] many = B("l" + string.Concat(Enumerable.Repeat("i1e", 1000)) + "e");
        var reader = new BencodeReader(many, BencodeLimits.Default with { MaxTokens = 100 });
        while (reader.Read()) { }
        Assert.Equal(BencodeErrorKind.TooManyTokens, reader.Error.Kind);
    }

    [Fact]
    public void String_longer_than_the_limit_is_refused_before_reading_it()
    {
        var reader = new BencodeReader(B("3000:" + new string('x', 3000)), BencodeLimits.Datagram);
        Assert.False(reader.Read());
        Assert.Equal(BencodeErrorKind.StringTooLong, reader.Error.Kind);
    }

    [Fact]
    public void Walks_a_dictionary_and_skips_unknown_values()
    {
        var reader = new BencodeReader(B("d1:ad1:xli1ei2eee1:bi7e1:c3:fooe"));
        Assert.True(reader.Read());
        Assert.Equal(BencodeTokenType.DictionaryStart, reader.TokenType);
        long b = 0;
        string c = "";
        while (reader.Read() && reader.TokenType != BencodeTokenType.End)
        {
            Assert.True(reader.IsKey);
            string key = Encoding.ASCII.GetString(reader.ValueSpan);
            switch (key)
            {
                case "b": Assert.True(reader.TryReadInteger(out b)); break;
                case "c": Assert.True(reader.TryReadString(out var s)); c = Encoding.ASCII.GetString(s); break;
                default: Assert.True(reader.ReadAndSkipValue()); break;
            }
        }
        Assert.Equal(7, b);
        Assert.Equal("foo", c);
        Assert.False(reader.Read());
        Assert.True(reader.IsComplete);
    }

    [Fact]
    public void Trailing_data_is_allowed_only_when_asked()
    {
        var reader = new BencodeReader(B("i1eXYZ"), BencodeLimits.Default, allowTrailingData: true);
        Assert.True(reader.Read());
        Assert.False(reader.Read());
        Assert.False(reader.Error.IsError);
        Assert.Equal(3, reader.Position);
    }

    [Fact]
    public void Reading_allocates_nothing()
    {
        byte[] data = B("d1:ad1:xli1ei2eee1:bi7e1:c3:foo1:dl1:p1:q1:ree");
        Walk(data);
        Assert.Equal(0, ThreadAllocations.Quietest(() =>
        {
            for (int i = 0; i < 1000; i++) Walk(data);
        }));

        static void Walk(byte[] data)
        {
            var reader = new BencodeReader(data);
            while (reader.Read()) { }
            if (!reader.IsComplete) throw new InvalidOperationException();
        }
    }

    [Fact]
    public void Random_garbage_never_throws()
    {
        var random = new Random(12345);
        var buffer = new byte[64];
        byte[] alphabet = B("ilde0123456789:-x");
        for (int i = 0; i < 20_000; i++)
        {
            int length = random.Next(buffer.Length);
            for (int j = 0; j < length; j++) buffer[j] = alphabet[random.Next(alphabet.Length)];
            var reader = new BencodeReader(buffer.AsSpan(0, length));
            int steps = 0;
            while (reader.Read()) Assert.True(++steps <= length);
            Assert.True(reader.IsComplete || reader.Error.IsError);
            Assert.True(BencodeDocument.TryParse(buffer.AsMemory(0, length).ToArray(), BencodeLimits.Default, out _, out var error) != error.IsError);
        }
    }
}
