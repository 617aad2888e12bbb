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

    [Fact]
    public void Reference_digests_select_their_own_verify_mode()
    {
        var o = LoadOptions.Parse(["--torrent", "t.torrent", "--reference-digests", "t.digests"]);
        Assert.Equal(VerifyMode.Digests, o.Verify);
        Assert.Equal("t.digests", o.ReferenceDigests);
    }

    [Theory]
    [InlineData("--reference-digests", "d", "--reference-file", "c")]
    [InlineData("--reference-digests", "d", "--verify", "sha1")]
    public void Reference_digests_with_another_verify_mode_are_refused(string flag1, string value1, string flag2, string value2) =>
        Assert.Contains("--reference-digests is a verification mode of its own",
            Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--torrent", "t.torrent", flag1, value1, flag2, value2])).Message);

    [Fact]
    public void Make_digests_needs_the_content_to_digest() =>
        Assert.Contains("--make-digests needs --reference-file",
            Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--torrent", "t.torrent", "--make-digests", "out"])).Message);
}
