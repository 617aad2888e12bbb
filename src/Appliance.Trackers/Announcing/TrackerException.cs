namespace Appliance.Trackers.Announcing;

/// <summary>A tracker could not be used for this announce (network, protocol or size error). The message names the cause.</summary>
public sealed class TrackerException : Exception
{
    public TrackerException(string message, bool timedOut = false) : base(message) => TimedOut = timedOut;

    public TrackerException(string message, Exception inner) : base(message, inner) { }

    public bool TimedOut { get; }
}
