using System.Text;
using Appliance.Networking.Http;

namespace Appliance.Networking.Tests.Http;

public sealed class HttpHeadParserTests
{
    [Fact]
    public void Offsets_point_at_the_method_target_and_trimmed_header_values()
    {
        var head = Encoding.ASCII.GetBytes("GET /name/a%20b.bin?x=1 HTTP/1.1\r\nHost: seed\r\nrange:  bytes=0-99 \t\r\nX-Empty:\r\n\r\nnext");
        var fields = new HttpHeaderField[8];
        int length = HttpHeadParser.Parse(head, 8192, fields, out var layout);
        Assert.Equal(head.Length - 4, length);
        Assert.Equal("GET", Encoding.ASCII.GetString(layout.Method(head)));
        Assert.Equal("/name/a%20b.bin?x=1", Encoding.ASCII.GetString(layout.Target(head)));
        Assert.True(layout.Http11);
        Assert.True(layout.KeepAliveRequested);
        Assert.Equal(3, layout.HeaderCount);
        Assert.True(HttpHeadParser.TryGetHeader(head, fields.AsSpan(0, 3), "Range"u8, out var range));
        Assert.Equal("bytes=0-99", Encoding.ASCII.GetString(range));
        Assert.True(HttpHeadParser.TryGetHeader(head, fields.AsSpan(0, 3), "x-empty"u8, out var empty));
        Assert.True(empty.IsEmpty);
        Assert.False(HttpHeadParser.TryGetHeader(head, fields.AsSpan(0, 3), "If-Range"u8, out _));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n\r\n", true)]
    [InlineData("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false)]
    [InlineData("GET / HTTP/1.0\r\n\r\n", false)]
    [InlineData("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true)]
    public void Keep_alive_follows_the_version_and_the_connection_header(string request, bool keepAlive)
    {
        Assert.True(HttpHeadParser.Parse(Encoding.ASCII.GetBytes(request), 8192, new HttpHeaderField[4], out var layout) > 0);
        Assert.Equal(keepAlive, layout.KeepAliveRequested);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", -431)]
    [InlineData("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -400)]
    [InlineData("GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", -400)]
    [InlineData("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", -400)]
    [InlineData("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -501)]
    [InlineData("GET /a HTTP/1.1\r\n", 0)]
    public void Limits_and_framing_errors_are_refused(string request, int expected) =>
        Assert.Equal(expected, HttpHeadParser.Parse(Encoding.ASCII.GetBytes(request), 8192, new HttpHeaderField[2], out _));
}
