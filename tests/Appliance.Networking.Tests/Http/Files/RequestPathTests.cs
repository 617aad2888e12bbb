using System.Text;
using Appliance.Networking.Http.Files;

namespace Appliance.Networking.Tests.Http.Files;

public sealed class RequestPathTests
{
    private static (RequestPathResult Result, string Path) Decode(string target)
    {
        var bytes = Encoding.ASCII.GetBytes(target);
        var scratch = new byte[bytes.Length];
        var chars = new char[bytes.Length];
        var result = RequestPath.Decode(bytes, scratch, chars, out int written);
        return (result, new string(chars, 0, written));
    }

    [Theory]
    [InlineData("/name", "name")]
    [InlineData("/name/a.bin", "name/a.bin")]
    [InlineData("/name/nested/deeper/c.bin", "name/nested/deeper/c.bin")]
    [InlineData("/my%20name/b%20c.bin", "my name/b c.bin")]
    [InlineData("/a+b/c;d=e", "a+b/c;d=e")]
    [InlineData("/name/a.bin?x=1&y=2", "name/a.bin")]
    [InlineData("/name/a.bin#frag", "name/a.bin")]
    [InlineData("/%E2%9C%93/caf%C3%A9", "\u2713/caf\u00e9")]
    [InlineData("/%25", "%")]
    [InlineData("/name/.hidden", "name/.hidden")]
    [InlineData("/name/...", "name/...")]
    [InlineData("/name/a..b", "name/a..b")]
    public void Paths_are_percent_decoded_into_relative_file_paths(string target, string expected) =>
        Assert.Equal((RequestPathResult.Decoded, expected), Decode(target));

    [Theory]
    [InlineData("/")]
    [InlineData("/name/")]
    [InlineData("//name")]
    [InlineData("/name//a.bin")]
    [InlineData("/name/../etc/passwd")]
    [InlineData("/../name")]
    [InlineData("/name/./a.bin")]
    [InlineData("/name/..")]
    [InlineData("/name/%2e%2e/x")]
    [InlineData("/name/%2E%2E/x")]
    [InlineData("/name/.%2e/x")]
    [InlineData("/name/%2e/x")]
    [InlineData("/name%2f..%2fx")]
    [InlineData("/name%2Fa.bin")]
    [InlineData("/name/a%5C..%5Cb")]
    [InlineData("/name/a\\b")]
    [InlineData("/name/a.bin%00")]
    [InlineData("/name/a%00b")]
    [InlineData("?x")]
    [InlineData("")]
    public void Folders_dot_segments_and_encoded_separators_name_no_file(string target) =>
        Assert.Equal(RequestPathResult.NotAFile, Decode(target).Result);

    [Theory]
    [InlineData("/name/%")]
    [InlineData("/name/%4")]
    [InlineData("/name/%zz")]
    [InlineData("/name/%g0")]
    [InlineData("/name/%C3")]
    [InlineData("/name/%FF%FE")]
    [InlineData("/name/%C0%AE%C0%AE")]
    public void Broken_escapes_and_bytes_that_are_not_UTF8_are_malformed(string target) =>
        Assert.Equal(RequestPathResult.Malformed, Decode(target).Result);
}
