using Appliance.Seeding.Torrents;

namespace Appliance.Hosting;

/// <summary>Runs the <see cref="ContentWatcher"/> (torrents and content added or removed while serving) as a component.</summary>
public sealed class ContentWatcherComponent(ContentWatcher watcher) : IApplianceComponent
{
    public string Name => "content-watcher";

    public Task StartAsync(CancellationToken cancellationToken) => watcher.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => watcher.StopAsync(cancellationToken);
}
