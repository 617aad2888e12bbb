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
}
