using System.Buffers.Binary;

namespace Appliance.TestKit;

/// <summary>
/// Deterministic mutations of a valid input, in the spirit of libtorrent's fuzzers but seeded and bounded so they
/// run as ordinary tests: bit flips, truncation, length-like fields forced to 0 / huge / negative, duplicated and
/// swapped ranges, random splices.
/// </summary>
public static class Mutations
{
    /// <summary>Every prefix of <paramref name="valid"/> (truncation at every offset).</summary>
    public static IEnumerable<byte[]> Truncations(byte[] valid)
    {
        for (int i = 0; i < valid.Length; i++) yield return valid[..i];
    }

    /// <summary><paramref name="count"/> random mutants of <paramref name="valid"/>, the same ones for the same seed.</summary>
    public static IEnumerable<byte[]> Random(byte[] valid, int seed, int count)
    {
        var random = new Random(seed);
        for (int i = 0; i < count; i++) yield return Mutate(valid, random);
    }

    public static byte[] Mutate(byte[] valid, Random random)
    {
        var data = valid.ToList();
        int rounds = 1 + random.Next(3);
        for (int r = 0; r < rounds; r++)
        {
            if (data.Count == 0) { data.Add((byte)random.Next(256)); continue; }
            int at = random.Next(data.Count);
            switch (random.Next(10))
            {
                case 0: // flip one bit
                    data[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1: // random byte
                    data[at] = (byte)random.Next(256);
                    break;
                case 2: // truncate
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 3: // delete a range
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + random.Next(16)));
                    break;
                case 4: // duplicate a range in place
                {
                    int length = Math.Min(data.Count - at, 1 + random.Next(32));
                    data.InsertRange(at, data.GetRange(at, length));
                    break;
                }
                case 5: // swap two ranges (reorders fields)
                {
                    int other = random.Next(data.Count);
                    int length = Math.Min(1 + random.Next(16), data.Count - Math.Max(at, other));
                    if (length <= 0 || Math.Abs(at - other) < length) break;
                    var a = data.GetRange(at, length);
                    var b = data.GetRange(other, length);
                    for (int k = 0; k < length; k++) { data[at + k] = b[k]; data[other + k] = a[k]; }
                    break;
                }
                case 6: // a 32-bit big-endian length field forced to an edge value
                {
                    if (data.Count - at < 4) break;
                    int[] edges = [0, 1, -1, int.MaxValue, int.MinValue, 0x4000, 0x4001, 0x7FFF_FFF0];
                    Span<byte> four = stackalloc byte[4];
                    BinaryPrimitives.WriteInt32BigEndian(four, edges[random.Next(edges.Length)]);
                    for (int k = 0; k < 4; k++) data[at + k] = four[k];
                    break;
                }
                case 7: // ASCII digits (bencode lengths, integers) replaced with an edge number
                {
                    string[] numbers = ["0", "00", "-1", "-0", "99999999999", "9223372036854775807", "9223372036854775808", "18446744073709551616", "4294967296"];
                    int end = at;
                    while (end < data.Count && data[end] is >= (byte)'0' and <= (byte)'9') end++;
                    data.RemoveRange(at, end - at);
                    data.InsertRange(at, System.Text.Encoding.ASCII.GetBytes(numbers[random.Next(numbers.Length)]));
                    break;
                }
                case 8: // insert random bytes
                {
                    var bytes = new byte[1 + random.Next(8)];
                    random.NextBytes(bytes);
                    data.InsertRange(at, bytes);
                    break;
                }
                default: // insert a structural byte
                {
                    byte[] structural = "ilde:0123456789-"u8.ToArray();
                    data.Insert(at, structural[random.Next(structural.Length)]);
                    break;
                }
            }
        }
        return data.ToArray();
    }
}
