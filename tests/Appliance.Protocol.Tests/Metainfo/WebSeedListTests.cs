using System.Text;
using Appliance.Protocol.Metainfo;

namespace Appliance.Protocol.Tests.Metainfo;

/// <summary>BEP 19 <c>url-list</c>: written as mktorrent and libtorrent write it, read in either form, outside the info-hash.</summary>
public sealed class WebSeedListTests
{
    private static MetainfoDraft Draft(params string[] webSeeds) =>
        new("file.bin", 16 * 1024, new byte[20], [new TorrentFile(["file.bin"], 1000, 0)], IsMultiFile: false) { WebSeeds = webSeeds };

    private static TorrentMetainfo WithUrlList(string urlList) =>
        TorrentMetainfo.Parse(Encoding.Latin1.GetBytes(
            "d4:infod6:lengthi1000e4:name8:file.bin12:piece lengthi16384e6:pieces20:" + new string('\x01', 20) + "e8:url-list" + urlList + "e"));

    [Fact]
    public void One_web_seed_is_written_as_a_string_and_several_as_a_list()
    {
        string one = Encoding.Latin1.GetString(MetainfoWriter.Encode(Draft("http://a.example/")));
        Assert.EndsWith("8:url-list17:http://a.example/e", one, StringComparison.Ordinal);
        string two = Encoding.Latin1.GetString(MetainfoWriter.Encode(Draft("http://a.example/", "http://b.example/x")));
        Assert.EndsWith("8:url-listl17:http://a.example/18:http://b.example/xee", two, StringComparison.Ordinal);
        Assert.DoesNotContain("url-list", Encoding.Latin1.GetString(MetainfoWriter.Encode(Draft())), StringComparison.Ordinal);
    }

    [Fact]
    public void Web_seeds_do_not_change_the_info_hash_and_round_trip()
    {
        var plain = TorrentMetainfo.Parse(MetainfoWriter.Encode(Draft()));
        var seeded = TorrentMetainfo.Parse(MetainfoWriter.Encode(Draft("http://a.example/", "https://b.example/files/")));
        Assert.Equal(plain.InfoHash, seeded.InfoHash);
        Assert.Equal(["http://a.example/", "https://b.example/files/"], seeded.WebSeeds);
        Assert.Empty(plain.WebSeeds);
    }

    [Theory]
    [InlineData("9:http://x/", new[] { "http://x/" })]
    [InlineData("l9:http://x/9:http://y/e", new[] { "http://x/", "http://y/" })]
    [InlineData("l9:http://x/i5e0:le9:http://y/e", new[] { "http://x/", "http://y/" })]
    [InlineData("0:", new string[0])]
    [InlineData("i1e", new string[0])]
    [InlineData("de", new string[0])]
    public void Url_list_is_read_as_a_string_or_a_list_skipping_what_is_not_a_url(string urlList, string[] expected) =>
        Assert.Equal(expected, WithUrlList(urlList).WebSeeds);
}
