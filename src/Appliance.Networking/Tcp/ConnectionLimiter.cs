using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Networking.Tcp;

/// <summary>Admits connections under a total cap and a per-address cap. Thread-safe; one lock per accept and close.</summary>
public sealed class ConnectionLimiter(int maxTotal, int maxPerAddress)
{
    private readonly Dictionary<UInt128, int> _perAddress = [];
    private readonly Lock _gate = new();
    private int _total;

    public int Total { get { lock (_gate) return _total; } }

    public AdmitResult TryAdmit(IPAddress address)
    {
        var key = AddressKey(address);
        lock (_gate)
        {
            if (maxTotal > 0 && _total >= maxTotal) return AdmitResult.TotalLimit;
            _perAddress.TryGetValue(key, out int count);
            if (maxPerAddress > 0 && count >= maxPerAddress) return AdmitResult.AddressLimit;
            _perAddress[key] = count + 1;
            _total++;
            return AdmitResult.Admitted;
        }
    }

    public void Release(IPAddress address)
    {
        var key = AddressKey(address);
        lock (_gate)
        {
            if (!_perAddress.TryGetValue(key, out int count)) return;
            if (count <= 1) _perAddress.Remove(key);
            else _perAddress[key] = count - 1;
            _total--;
        }
    }

    /// <summary>
    /// The unit a per-address limit counts: an IPv4 address (also when it arrives IPv4-mapped on a dual-stack socket),
    /// or an IPv6 /64, because one subscriber is usually handed a whole /64 and can pick any address in it.
    /// </summary>
    public static UInt128 AddressKey(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(bytes, out _);
            return (UInt128)0xFFFF << 32 | BinaryPrimitives.ReadUInt32BigEndian(bytes);
        }
        address.TryWriteBytes(bytes, out _);
        var value = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return address.IsIPv4MappedToIPv6 ? value : value & ((UInt128)ulong.MaxValue << 64);
    }
}

public enum AdmitResult : byte
{
    Admitted,
    TotalLimit,
    AddressLimit,
}
