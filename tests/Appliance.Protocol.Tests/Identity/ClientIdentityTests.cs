using System.Text;
using Appliance.Protocol.Identity;
using Appliance.Protocol.PeerWire;

namespace Appliance.Protocol.Tests.Identity;

public sealed class ClientIdentityTests
{
    [Fact]
    public void Every_name_derives_from_the_one_version()
    {
        var parts = ClientIdentity.Version.Split('.').Select(int.Parse).ToArray();
        Assert.Equal($"-AP{parts[0]}{parts[1]}{parts[2]}0-", Encoding.ASCII.GetString(ClientIdentity.PeerIdPrefix));
        Assert.Equal(new byte[] { (byte)'A', (byte)'P', (byte)parts[0], (byte)parts[1] }, ClientIdentity.DhtVersion.ToArray());
        Assert.Equal("Appliance " + ClientIdentity.Version, Encoding.ASCII.GetString(ClientIdentity.ExtensionVersion));
        Assert.Equal("Appliance/" + ClientIdentity.Version, ClientIdentity.UserAgent);
    }

    [Fact]
    public void New_peer_ids_share_the_prefix_and_differ_in_their_printable_tail()
    {
        var a = new byte[PeerId.Length];
        var b = new byte[PeerId.Length];
        ClientIdentity.NewPeerId().WriteTo(a);
        ClientIdentity.NewPeerId().WriteTo(b);
        Assert.True(a.AsSpan().StartsWith(ClientIdentity.PeerIdPrefix));
        Assert.True(b.AsSpan().StartsWith(ClientIdentity.PeerIdPrefix));
        Assert.NotEqual(Encoding.ASCII.GetString(a), Encoding.ASCII.GetString(b));
        Assert.All(a.AsSpan(ClientIdentity.PeerIdPrefix.Length).ToArray(), c => Assert.True(char.IsAsciiLetterOrDigit((char)c)));
    }
}
