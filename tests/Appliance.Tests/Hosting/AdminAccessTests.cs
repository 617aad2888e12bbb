using System.Net;
using System.Text;
using Appliance.Hosting;

namespace Appliance.Tests.Hosting;

/// <summary>Who may use the admin API (the decision alone; the live listener is exercised in ServeOperationsTests).</summary>
public sealed class AdminAccessTests
{
    private static readonly byte[] Token = Encoding.UTF8.GetBytes("0123456789abcdef-secret");

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.9.8.7")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    public void Without_a_token_loopback_clients_are_answered(string address)
    {
        Assert.Equal(AdminAccess.Allowed, AdminApi.Authorize(null, IPAddress.Parse(address), authorization: null));
    }

    [Theory]
    [InlineData("10.0.0.5")]
    [InlineData("192.0.2.1")]
    [InlineData("2001:db8::1")]
    [InlineData("::ffff:10.0.0.5")]
    public void Without_a_token_other_clients_are_refused_even_with_an_authorization_header(string address)
    {
        Assert.Equal(AdminAccess.NotLoopback, AdminApi.Authorize(null, IPAddress.Parse(address), "Bearer 0123456789abcdef-secret"));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.0.0.5")]
    public void With_a_token_every_client_must_send_it(string address)
    {
        var remote = IPAddress.Parse(address);
        Assert.Equal(AdminAccess.NoToken, AdminApi.Authorize(Token, remote, authorization: null));
        Assert.Equal(AdminAccess.NoToken, AdminApi.Authorize(Token, remote, "Basic dXNlcjpwYXNz"));
        Assert.Equal(AdminAccess.WrongToken, AdminApi.Authorize(Token, remote, "Bearer 0123456789abcdef-secreT"));
        Assert.Equal(AdminAccess.WrongToken, AdminApi.Authorize(Token, remote, "Bearer 0123456789abcdef"));
        Assert.Equal(AdminAccess.WrongToken, AdminApi.Authorize(Token, remote, "Bearer "));
        Assert.Equal(AdminAccess.Allowed, AdminApi.Authorize(Token, remote, "Bearer 0123456789abcdef-secret"));
        Assert.Equal(AdminAccess.Allowed, AdminApi.Authorize(Token, remote, "bearer  0123456789abcdef-secret "));
    }

    [Theory]
    [InlineData("127.0.0.1:9469", null)]
    [InlineData("localhost:9469", "http://localhost:9469")]
    [InlineData("[::1]:9469", null)]
    [InlineData("10.1.2.3:9469", null)]
    public void Without_a_token_hosts_naming_this_machine_are_answered(string host, string? origin)
    {
        Assert.Equal(AdminAccess.Allowed, AdminApi.CheckBrowser(tokenRequired: false, host, origin, IPAddress.Parse("10.1.2.3")));
    }

    [Theory]
    [InlineData("attacker.example:9469", null)]
    [InlineData(null, null)]
    [InlineData("10.9.9.9", null)]
    public void Without_a_token_other_hosts_are_refused_as_dns_rebinding(string? host, string? origin)
    {
        Assert.Equal(AdminAccess.BadHost, AdminApi.CheckBrowser(tokenRequired: false, host, origin, IPAddress.Parse("10.1.2.3")));
    }

    [Theory]
    [InlineData(false, "127.0.0.1:9469", "http://attacker.example")]
    [InlineData(false, "127.0.0.1:9469", "null")]
    [InlineData(true, "seed1.example:9469", "http://attacker.example")]
    public void Cross_site_origins_are_refused(bool tokenRequired, string host, string origin)
    {
        Assert.Equal(AdminAccess.CrossSite, AdminApi.CheckBrowser(tokenRequired, host, origin, null));
    }

    [Fact]
    public void With_a_token_any_host_name_is_answered()
    {
        Assert.Equal(AdminAccess.Allowed, AdminApi.CheckBrowser(tokenRequired: true, "seed1.example:9469", "http://seed1.example:9469", null));
    }
}
