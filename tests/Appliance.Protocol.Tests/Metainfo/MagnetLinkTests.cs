using Appliance.Protocol.Metainfo;

namespace Appliance.Protocol.Tests.Metainfo;

public class MagnetLinkTests
{
    private static readonly InfoHash Hash = InfoHash.ParseHex("0123456789abcdef0123456789abcdef01234567");

    [Fact]
    public void Formats_hash_name_and_trackers_escaped()
    {
        string link = MagnetLink.Format(Hash, "my file&co", ["http://t:6969/announce"]);
        Assert.Equal("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=my%20file%26co&tr=http%3A%2F%2Ft%3A6969%2Fannounce", link);
    }

    [Fact]
    public void Parses_what_it_formats()
    {
        var link = MagnetLink.Parse(MagnetLink.Format(Hash, "n", ["udp://a:1", "http://b/x"]));
        Assert.Equal(Hash, link.InfoHash);
        Assert.Equal("n", link.DisplayName);
        Assert.Equal(["udp://a:1", "http://b/x"], link.Trackers);
    }

    [Fact]
    public void Names_and_trackers_are_percent_decoded_as_utf8_with_plus_as_space()
    {
        var link = MagnetLink.Parse("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=caf%C3%A9+au%2Blait&tr=http%3A%2F%2Ft%3A1%2Fa");
        Assert.Equal("caf\u00e9 au+lait", link.DisplayName);
        Assert.Equal(["http://t:1/a"], link.Trackers);
    }

    [Theory]
    [InlineData("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=100%")]
    [InlineData("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=%zz")]
    [InlineData("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=%FF")]
    public void Refuses_links_with_broken_escapes(string text)
    {
        Assert.False(MagnetLink.TryParse(text, out _, out var reason));
        Assert.Contains("dn", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Accepts_base32_info_hashes()
    {
        // 32 base32 characters encode the same 20 bytes as 40 hex digits.
        var link = MagnetLink.Parse("magnet:?xt=urn:btih:AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH");
        Assert.Equal(Hash, link.InfoHash);
    }

    [Theory]
    [InlineData("http://x")]
    [InlineData("magnet:?dn=x")]
    [InlineData("magnet:?xt=urn:btih:1234")]
    public void Refuses_links_without_a_valid_hash(string text)
    {
        Assert.False(MagnetLink.TryParse(text, out _, out var reason));
        Assert.NotNull(reason);
    }
}
