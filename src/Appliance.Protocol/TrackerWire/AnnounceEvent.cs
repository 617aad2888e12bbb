namespace Appliance.Protocol.TrackerWire;

/// <summary>The announce event; numeric values are the BEP 15 wire values.</summary>
public enum AnnounceEvent
{
    None = 0,
    Completed = 1,
    Started = 2,
    Stopped = 3,
}

public static class AnnounceEventNames
{
    /// <summary>The HTTP <c>event=</c> value, or null for a regular re-announce.</summary>
    public static string? ToQueryValue(this AnnounceEvent e) => e switch
    {
        AnnounceEvent.Started => "started",
        AnnounceEvent.Stopped => "stopped",
        AnnounceEvent.Completed => "completed",
        _ => null,
    };

    public static bool TryParse(ReadOnlySpan<byte> value, out AnnounceEvent e)
    {
        e = value switch
        {
            [] => AnnounceEvent.None,
            _ when value.SequenceEqual("empty"u8) => AnnounceEvent.None,
            _ when value.SequenceEqual("started"u8) => AnnounceEvent.Started,
            _ when value.SequenceEqual("stopped"u8) => AnnounceEvent.Stopped,
            _ when value.SequenceEqual("completed"u8) => AnnounceEvent.Completed,
            _ => (AnnounceEvent)(-1),
        };
        return e >= 0;
    }
}
