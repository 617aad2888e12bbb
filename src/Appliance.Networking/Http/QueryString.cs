using Appliance.Protocol.Urls;

namespace Appliance.Networking.Http;

/// <summary>
/// Reads an application/x-www-form-urlencoded query ("a=1&amp;b=%20x") without allocating per pair.
/// Values are percent-decoded into bytes, so binary values (BitTorrent info-hashes) survive.
/// </summary>
public readonly struct QueryString(string raw)
{
    public string Raw { get; } = raw ?? "";

    public Enumerator GetEnumerator() => new(Raw);

    /// <summary>The raw (still encoded) value of the first pair with this exact name.</summary>
    public bool TryGetRaw(string name, out ReadOnlySpan<char> value)
    {
        foreach (var pair in this)
        {
            if (pair.Name.SequenceEqual(name))
            {
                value = pair.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>The first value with this name decoded as UTF-8 text ('+' means space), or null when absent or malformed.</summary>
    public string? GetString(string name)
    {
        if (!TryGetRaw(name, out var raw)) return null;
        return PercentEncoding.DecodeUtf8(raw, plusIsSpace: true);
    }

    public readonly ref struct Pair(ReadOnlySpan<char> name, ReadOnlySpan<char> value)
    {
        public ReadOnlySpan<char> Name { get; } = name;
        public ReadOnlySpan<char> Value { get; } = value;
    }

    public ref struct Enumerator
    {
        private ReadOnlySpan<char> _rest;
        private Pair _current;

        internal Enumerator(string raw) => _rest = raw;

        public readonly Pair Current => _current;

        public bool MoveNext()
        {
            while (!_rest.IsEmpty)
            {
                int amp = _rest.IndexOf('&');
                var item = amp < 0 ? _rest : _rest[..amp];
                _rest = amp < 0 ? default : _rest[(amp + 1)..];
                if (item.IsEmpty) continue;
                int eq = item.IndexOf('=');
                _current = eq < 0 ? new Pair(item, default) : new Pair(item[..eq], item[(eq + 1)..]);
                return true;
            }
            return false;
        }
    }
}
