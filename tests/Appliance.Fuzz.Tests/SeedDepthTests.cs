using Appliance.Fuzz.Encryption;
using Appliance.Fuzz.Utp;
using Appliance.Networking.Utp;
using Appliance.Protocol.Encryption;

namespace Appliance.Fuzz.Tests;

/// <summary>
/// The seeds of the stateful targets get where their names say: a valid handshake completes, a valid upload ends in a
/// closed connection. If the fixed keys or the event encoding change, the seeds go stale and the fuzzer starts shallow;
/// this says so.
/// </summary>
public sealed class SeedDepthTests
{
    private static byte[] Seed(string target, string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "corpus", target, name));

    [Theory]
    [InlineData("whole-stream-rc4", MseStatus.Done)]
    [InlineData("after-ya-plaintext", MseStatus.Done)]
    [InlineData("after-ya-chunks-of-7", MseStatus.Done)]
    [InlineData("plain-fields-rc4", MseStatus.Done)]
    [InlineData("plain-fields-bytewise", MseStatus.Done)]
    [InlineData("plain-fields-max-padc-empty-ia", MseStatus.Done)]
    [InlineData("pad-a-512", MseStatus.Done)]
    [InlineData("pad-a-513", MseStatus.Failed)]
    [InlineData("padc-513", MseStatus.Failed)]
    [InlineData("ia-4097", MseStatus.Failed)]
    [InlineData("vc-not-zero", MseStatus.Failed)]
    [InlineData("provide-nothing-known", MseStatus.Failed)]
    [InlineData("unknown-skey", MseStatus.Failed)]
    [InlineData("ya-zero", MseStatus.Failed)]
    [InlineData("ya-p-minus-1", MseStatus.Failed)]
    [InlineData("ya-cut", MseStatus.NeedMoreData)]
    public void Mse_seed_ends_where_its_name_says(string seed, MseStatus expected)
    {
        Assert.Equal(expected, MseTarget.Run(Seed("mse", seed)));
    }

    [Theory]
    [InlineData("establish-read-fin", UtpState.Connected)]
    [InlineData("upload-acked-close", UtpState.Closed)]
    [InlineData("raw-datagrams", UtpState.Connected)]
    [InlineData("half-open-timeout", UtpState.Closed)]
    [InlineData("idle-timeout", UtpState.Closed)]
    [InlineData("reset-by-peer", UtpState.Closed)]
    [InlineData("syn-resent", UtpState.Connected)]
    public void Utp_connection_seed_ends_where_its_name_says(string seed, UtpState expected)
    {
        Assert.Equal(expected, UtpConnectionTarget.Run(Seed("utp-connection", seed)));
    }
}
