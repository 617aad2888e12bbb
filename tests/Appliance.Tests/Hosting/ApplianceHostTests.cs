using Appliance.Configuration;
using Appliance.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Tests.Hosting;

public sealed class ApplianceHostTests
{
    [Fact]
    public async Task Every_component_drains_before_any_stops_each_phase_in_reverse_start_order()
    {
        var events = new List<string>();
        var host = new ApplianceHost(new ServeOptions(), NullLogger<ApplianceHost>.Instance);
        foreach (var name in new[] { "seeder", "utp", "readiness" }) host.Add(new Recorder(name, events));
        using var stopping = new CancellationTokenSource();
        var run = host.RunAsync(stopping.Token);
        while (true)
        {
            lock (events) if (events.Count == 3) break;
            await Task.Delay(10);
        }
        await stopping.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(
            ["start seeder", "start utp", "start readiness",
             "drain readiness", "drain utp", "drain seeder",
             "stop readiness", "stop utp", "stop seeder"],
            events);
    }

    private sealed class Recorder(string name, List<string> events) : IApplianceComponent
    {
        public string Name => name;

        public Task StartAsync(CancellationToken cancellationToken) => Record("start");

        public Task DrainAsync(CancellationToken cancellationToken) => Record("drain");

        public Task StopAsync(CancellationToken cancellationToken) => Record("stop");

        private Task Record(string what)
        {
            lock (events) events.Add($"{what} {name}");
            return Task.CompletedTask;
        }
    }
}
