using Appliance.Configuration;
using Appliance.Logging;
using Microsoft.Extensions.Logging;

namespace Appliance.Hosting;

/// <summary>Runs the composed components until a stop is requested, then drains and stops them in reverse order within a deadline.</summary>
public sealed class ApplianceHost(ServeOptions options, ILogger<ApplianceHost> logger)
{
    private readonly List<IApplianceComponent> _components = [];
    private readonly List<IApplianceComponent> _started = [];

    public IReadOnlyList<IApplianceComponent> Components => _components;

    public void Add(IApplianceComponent component) => _components.Add(component);

    public async Task<int> RunAsync(CancellationToken stopping)
    {
        try
        {
            foreach (var component in _components)
            {
                stopping.ThrowIfCancellationRequested();
                await component.StartAsync(stopping).ConfigureAwait(false);
                _started.Add(component);
                HostLog.ComponentStarted(logger, component.Name);
            }
            HostLog.Ready(logger);
            await Task.Delay(Timeout.Infinite, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            HostLog.StartFailed(logger, e);
            await StopAsync().ConfigureAwait(false);
            return 1;
        }
        HostLog.Stopping(logger);
        return await StopAsync().ConfigureAwait(false) ? 0 : 1;
    }

    private async Task<bool> StopAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(options.ShutdownDeadlineSeconds));
        bool clean = true;
        for (int i = _started.Count - 1; i >= 0; i--)
        {
            var component = _started[i];
            try
            {
                await component.DrainAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                clean = false;
                HostLog.StopFailed(logger, component.Name, e);
            }
        }
        for (int i = _started.Count - 1; i >= 0; i--)
        {
            var component = _started[i];
            try
            {
                await component.StopAsync(deadline.Token).ConfigureAwait(false);
                HostLog.ComponentStopped(logger, component.Name);
            }
            catch (Exception e)
            {
                clean = false;
                HostLog.StopFailed(logger, component.Name, e);
            }
        }
        _started.Clear();
        return clean;
    }
}
