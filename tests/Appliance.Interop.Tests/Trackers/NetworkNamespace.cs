using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Interop.Tests.Trackers;

/// <summary>
/// A network namespace joined to this host by a veth pair on a private /30 (10.200.N.0/30), made and removed by the test.
/// Our end is <see cref="HostAddress"/>, the namespace's end <see cref="InnerAddress"/>; traffic stays between the two.
/// Needs root (CAP_NET_ADMIN) and iproute2.
/// </summary>
internal sealed class NetworkNamespace : IDisposable
{
    private readonly string _hostLink;

    private NetworkNamespace(string name, string hostLink, int subnet)
    {
        Name = name;
        _hostLink = hostLink;
        HostAddress = $"10.200.{subnet}.1";
        InnerAddress = $"10.200.{subnet}.2";
    }

    public string Name { get; }
    public string HostAddress { get; }
    public string InnerAddress { get; }

    public static async Task<NetworkNamespace> CreateAsync()
    {
        int id = Random.Shared.Next(1, 250);
        string suffix = Environment.ProcessId.ToString("x", CultureInfo.InvariantCulture) + id.ToString("x2", CultureInfo.InvariantCulture);
        var ns = new NetworkNamespace("appl-" + suffix, "vha" + suffix, id);
        string inner = "vna" + suffix;
        try
        {
            await RunAsync("ip", "netns", "add", ns.Name);
            await RunAsync("ip", "link", "add", ns._hostLink, "type", "veth", "peer", "name", inner);
            await RunAsync("ip", "link", "set", inner, "netns", ns.Name);
            await RunAsync("ip", "addr", "add", ns.HostAddress + "/30", "dev", ns._hostLink);
            await RunAsync("ip", "link", "set", ns._hostLink, "up");
            await RunAsync("ip", "netns", "exec", ns.Name, "ip", "addr", "add", ns.InnerAddress + "/30", "dev", inner);
            await RunAsync("ip", "netns", "exec", ns.Name, "ip", "link", "set", inner, "up");
            await RunAsync("ip", "netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
            return ns;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Starts a program inside the namespace.</summary>
    public ExternalProcess Start(string program, IEnumerable<string> arguments) =>
        ExternalProcess.Start("ip", ["netns", "exec", Name, program, .. arguments]);

    private static async Task RunAsync(params string[] command)
    {
        using var process = await ExternalProcess.RunAsync(command[0], command[1..], TimeSpan.FromSeconds(10));
        if (process.ExitCode != 0) throw new InvalidOperationException($"{string.Join(' ', command)} failed ({process.ExitCode})\n{process.AllOutput}");
    }

    public void Dispose()
    {
        // Deleting the namespace destroys its veth end, which removes our end too; delete ours anyway in case the move failed.
        foreach (var command in new[] { new[] { "netns", "del", Name }, ["link", "del", _hostLink] })
        {
            try
            {
                using var process = ExternalProcess.Start("ip", command);
                process.WaitForExitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }
}
