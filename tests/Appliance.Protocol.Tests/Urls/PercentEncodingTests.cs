using System.Text;
using Appliance.Protocol.Urls;

namespace Appliance.Protocol.Tests.Urls;

public sealed class PercentEncodingTests
{
    [Theory]
    [InlineData("", new byte[0])]
    [InlineData("abc", new byte[] { (byte)'a', (byte)'b', (byte)'c' })]
    [InlineData("%00%7f%80%FF", new byte[] { 0x00, 0x7F, 0x80, 0xFF })]
    [InlineData("%aB%Cd", new byte[] { 0xAB, 0xCD })]
    [InlineData("%25", new byte[] { (byte)'%' })]
    [InlineData("a%2Fb", new byte[] { (byte)'a', (byte)'/', (byte)'b' })]
    public void Escapes_decode_to_any_byte_in_either_case(string encoded, byte[] expected)
    {
        Assert.Equal(expected, Decode(encoded, plusIsSpace: false));
        Assert.Equal(expected, DecodeBytes(Encoding.ASCII.GetBytes(encoded), plusIsSpace: false));
    }

    [Theory]
    [InlineData("%")]
    [InlineData("a%")]
    [InlineData("%4")]
    [InlineData("%4g")]
    [InlineData("%g4")]
    [InlineData("%%41")]
    [InlineData("% 41")]
    [InlineData("%+1")]
    public void Broken_escapes_are_refused(string encoded)
    {
        Assert.Null(Decode(encoded, plusIsSpace: true));
        Assert.Null(DecodeBytes(Encoding.ASCII.GetBytes(encoded), plusIsSpace: true));
        Assert.Null(PercentEncoding.DecodeUtf8(encoded, plusIsSpace: true));
    }

    [Fact]
    public void Plus_is_a_space_only_in_form_encoding_and_an_escaped_plus_is_always_a_plus()
    {
        Assert.Equal("a b+c"u8.ToArray(), Decode("a+b%2Bc", plusIsSpace: true));
        Assert.Equal("a+b+c"u8.ToArray(), Decode("a+b%2Bc", plusIsSpace: false));
        Assert.Equal("a+b+c"u8.ToArray(), DecodeBytes("a+b%2Bc"u8.ToArray(), plusIsSpace: false));
    }

    [Fact]
    public void Text_must_be_ascii_but_raw_target_bytes_pass_through()
    {
        Assert.Null(Decode("caf\u00e9", plusIsSpace: false));
        Assert.Equal("caf\u00e9"u8.ToArray(), DecodeBytes("caf\u00e9"u8.ToArray(), plusIsSpace: false));
    }

    [Fact]
    public void A_destination_too_small_is_refused_and_an_exact_one_is_enough()
    {
        Span<byte> three = stackalloc byte[3];
        Assert.True(PercentEncoding.TryDecode("%41bc", three, out int written, plusIsSpace: false));
        Assert.Equal(3, written);
        Assert.False(PercentEncoding.TryDecode("%41bcd", three, out _, plusIsSpace: false));
    }

    [Fact]
    public void Utf8_text_decodes_and_invalid_utf8_is_refused()
    {
        Assert.Equal("\u2713 caf\u00e9", PercentEncoding.DecodeUtf8("%E2%9C%93+caf%C3%A9", plusIsSpace: true));
        Assert.Null(PercentEncoding.DecodeUtf8("%C3", plusIsSpace: true));
        Assert.Null(PercentEncoding.DecodeUtf8("%FF%FE", plusIsSpace: true));
    }

    private static byte[]? Decode(string encoded, bool plusIsSpace)
    {
        var buffer = new byte[encoded.Length];
        return PercentEncoding.TryDecode(encoded, buffer, out int n, plusIsSpace) ? buffer[..n] : null;
    }

    private static byte[]? DecodeBytes(byte[] encoded, bool plusIsSpace)
    {
        var buffer = new byte[encoded.Length];
        return PercentEncoding.TryDecode(encoded, buffer, out int n, plusIsSpace) ? buffer[..n] : null;
    }
}
