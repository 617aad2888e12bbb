namespace Appliance.Protocol.Metainfo;

/// <summary>A .torrent that is refused, with the reason a user can act on.</summary>
public sealed class MetainfoException(string reason, Exception? inner = null) : FormatException("invalid torrent: " + reason, inner)
{
    public string Reason { get; } = reason;
}
