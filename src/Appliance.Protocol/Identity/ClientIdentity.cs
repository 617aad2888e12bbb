using System.Text;
using Appliance.Protocol.PeerWire;
using Appliance.Protocol.Randomness;

namespace Appliance.Protocol.Identity;

/// <summary>
/// How this program names itself on every wire, all derived from <see cref="Version"/>: the Azureus-style peer id
/// prefix (handshake and tracker announces), the BEP 10 extension handshake <c>v</c>, the KRPC <c>v</c> (two letters
/// and two version bytes, as libtorrent writes it) and the HTTP user agent.
/// </summary>
public static class ClientIdentity
{
    public const string Name = "Appliance";

    /// <summary>MAJOR.MINOR.PATCH; the one place the version is written (<c>appliance version</c> prints it).</summary>
    public const string Version = "0.1.0";

    /// <summary>The two letters that name us in peer ids and KRPC <c>v</c>.</summary>
    public const string ClientCode = "AP";

    private static readonly int[] Parts = ParseVersion(Version);
    private static readonly byte[] PeerIdPrefixBytes = Encoding.ASCII.GetBytes($"-{ClientCode}{Digit(Parts[0])}{Digit(Parts[1])}{Digit(Parts[2])}0-");
    private static readonly byte[] ExtensionVersionBytes = Encoding.ASCII.GetBytes($"{Name} {Version}");
    private static readonly byte[] DhtVersionBytes = [(byte)ClientCode[0], (byte)ClientCode[1], checked((byte)Parts[0]), checked((byte)Parts[1])];

    /// <summary>Azureus style, <c>-AP0100-</c> for 0.1.0: two letters and one character per version part, then 0.</summary>
    public static ReadOnlySpan<byte> PeerIdPrefix => PeerIdPrefixBytes;

    /// <summary>BEP 10 <c>v</c>: a readable client name and version.</summary>
    public static ReadOnlySpan<byte> ExtensionVersion => ExtensionVersionBytes;

    /// <summary>KRPC <c>v</c>: two letters, then the major and minor version as one byte each.</summary>
    public static ReadOnlySpan<byte> DhtVersion => DhtVersionBytes;

    /// <summary>User-Agent of our HTTP requests (tracker announces and scrapes).</summary>
    public static string UserAgent { get; } = $"{Name}/{Version}";

    /// <summary>A new peer id: the prefix and 12 random printable characters. A process makes one and uses it everywhere.</summary>
    public static PeerId NewPeerId()
    {
        Span<byte> id = stackalloc byte[PeerId.Length];
        PeerIdPrefix.CopyTo(id);
        // Printable random characters, as most clients use, so the id shows well in peer lists.
        const string alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for (int i = PeerIdPrefixBytes.Length; i < id.Length; i++)
            id[i] = (byte)alphabet[KernelRandom.GetInt32(alphabet.Length)];
        return new PeerId(id);
    }

    private static int[] ParseVersion(string version)
    {
        var parts = version.Split('.');
        if (parts.Length != 3) throw new InvalidOperationException($"version '{version}' is not MAJOR.MINOR.PATCH");
        return [int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture)];
    }

    // Azureus convention: 0-9, then letters for parts of 10 and more.
    private static char Digit(int part) => part switch
    {
        < 10 => (char)('0' + part),
        < 36 => (char)('A' + part - 10),
        _ => throw new InvalidOperationException($"version part {part} does not fit one peer id character"),
    };
}
