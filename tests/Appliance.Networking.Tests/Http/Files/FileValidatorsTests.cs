using System.Text;
using Appliance.Networking.Http.Files;

namespace Appliance.Networking.Tests.Http.Files;

public sealed class FileValidatorsTests
{
    private static string EntityTag(long size, long mtime)
    {
        var buffer = new byte[FileValidators.MaxEntityTagLength];
        return Encoding.ASCII.GetString(buffer, 0, FileValidators.WriteEntityTag(size, mtime, buffer));
    }

    private static string HttpDate(long unixNanoseconds)
    {
        var buffer = new byte[FileValidators.HttpDateLength];
        return Encoding.ASCII.GetString(buffer, 0, FileValidators.WriteHttpDate(unixNanoseconds, buffer));
    }

    [Fact]
    public void The_entity_tag_is_quoted_size_and_mtime_in_hex()
    {
        Assert.Equal("\"3e8-5f5e100\"", EntityTag(1000, 100_000_000));
        Assert.Equal("\"0-0\"", EntityTag(0, 0));
        Assert.Equal(FileValidators.MaxEntityTagLength, EntityTag(long.MaxValue, long.MaxValue).Length);
    }

    [Fact]
    public void The_entity_tag_changes_with_size_and_with_mtime()
    {
        Assert.NotEqual(EntityTag(1000, 1), EntityTag(1001, 1));
        Assert.NotEqual(EntityTag(1000, 1), EntityTag(1000, 2));
    }

    [Fact]
    public void Last_modified_is_an_imf_fixdate_of_whole_seconds()
    {
        long nanoseconds = 784_111_777L * 1_000_000_000 + 999_999_999; // 1994-11-06 08:49:37.999999999 UTC
        Assert.Equal("Sun, 06 Nov 1994 08:49:37 GMT", HttpDate(nanoseconds));
        Assert.Equal(FileValidators.HttpDateLength, HttpDate(0).Length);
    }

    [Theory]
    [InlineData("\"3e8-1\"", true)]
    [InlineData("  \"3e8-1\" ", true)]
    [InlineData("\"3e8-2\"", false)]
    [InlineData("W/\"3e8-1\"", false)]
    [InlineData("\"3e8-1", false)]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT", true)]
    [InlineData("Sun, 06 Nov 1994 08:49:38 GMT", false)]
    [InlineData("Sunday, 06-Nov-94 08:49:37 GMT", false)]
    [InlineData("", false)]
    public void If_range_matches_only_the_same_strong_tag_or_the_exact_date(string ifRange, bool matches)
    {
        var tag = Encoding.ASCII.GetBytes("\"3e8-1\"");
        var date = Encoding.ASCII.GetBytes("Sun, 06 Nov 1994 08:49:37 GMT");
        Assert.Equal(matches, FileValidators.IfRangeMatches(Encoding.ASCII.GetBytes(ifRange), tag, date));
    }
}
