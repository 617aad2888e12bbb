namespace Appliance.Networking.Tcp;

/// <summary>The periodic loops a server hands to <see cref="TcpServerLifecycle{TConnection}.Start"/> (sweeps, choker rounds).</summary>
public static class PeriodicLoop
{
    /// <summary>A loop that runs <paramref name="tick"/> every <paramref name="interval"/> on <paramref name="time"/>'s clock until cancelled.</summary>
    public static Func<CancellationToken, Task> Every(TimeSpan interval, TimeProvider time, Action tick) => async cancellationToken =>
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false)) tick();
        }
        catch (OperationCanceledException)
        {
        }
    };
}
