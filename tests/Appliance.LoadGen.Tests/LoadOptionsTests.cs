namespace Appliance.LoadGen.Tests;

public sealed class LoadOptionsTests
{
    [Fact]
    public void Join_defaults_to_the_v1_info_hash_and_takes_v2()
    {
        Assert.Equal(JoinKind.V1, LoadOptions.Parse(["--torrent", "t.torrent"]).Join);
        Assert.Equal(JoinKind.V2, LoadOptions.Parse(["--torrent", "t.torrent", "--join", "v2"]).Join);
        Assert.Equal(VerifyMode.Reference, LoadOptions.Parse(["--torrent", "t.torrent", "--verify", "reference"]).Verify);
    }

    [Theory]
    [InlineData("--join", "v3", "--join: 'v3' is not v1 or v2")]
    [InlineData("--verify", "md5", "--verify: 'md5' is not sha1 or reference")]
    public void A_choice_outside_its_values_is_refused_with_them(string flag, string value, string message) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--torrent", "t.torrent", flag, value])).Message);
}
