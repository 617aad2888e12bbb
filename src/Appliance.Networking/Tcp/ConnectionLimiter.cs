using System.Net;

namespace Appliance.Networking.Tcp;

/// <summary>Admits connections under a total cap and a per-address cap. Thread-safe; one lock per accept and close.</summary>
public sealed class ConnectionLimiter(int maxTotal, int maxPerAddress)
{
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Lock _gate = new();
    private int _total;

    public int Total { get { lock (_gate) return _total; } }

    public AdmitResult TryAdmit(IPAddress address)
    {
        lock (_gate)
        {
            if (maxTotal > 0 && _total >= maxTotal) return AdmitResult.TotalLimit;
            _perAddress.TryGetValue(address, out int count);
            if (maxPerAddress > 0 && count >= maxPerAddress) return AdmitResult.AddressLimit;
            _perAddress[address] = count + 1;
            _total++;
            return AdmitResult.Admitted;
        }
    }

    public void Release(IPAddress address)
    {
        lock (_gate)
        {
            if (!_perAddress.TryGetValue(address, out int count)) return;
            if (count <= 1) _perAddress.Remove(address);
            else _perAddress[address] = count - 1;
            _total--;
        }
    }
}

public enum AdmitResult : byte
{
    Admitted,
    TotalLimit,
    AddressLimit,
}
