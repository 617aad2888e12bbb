using System.Runtime.InteropServices;

namespace Appliance.Protocol.Randomness;

/// <summary>
/// Secret random bytes straight from the kernel's getrandom(2). .NET's RandomNumberGenerator goes through OpenSSL on
/// Linux, and loading libcrypto and libssl for it costs a tracker-only process about 4 MB of resident pages it never
/// otherwise needs. Used for keys, ids and nonces; content hashing keeps .NET's SHA-1.
/// </summary>
public static partial class KernelRandom
{
    private const int Eintr = 4;

    /// <summary>Fills <paramref name="buffer"/> with random bytes; blocks only until the kernel's pool is first initialised.</summary>
    public static unsafe void Fill(Span<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            int done = 0;
            // The kernel returns at most 32 MiB per call, and a signal can cut a large request short.
            while (done < buffer.Length)
            {
                nint got = getrandom(start + done, (nuint)(buffer.Length - done), 0);
                if (got > 0)
                {
                    done += (int)got;
                    continue;
                }
                int error = Marshal.GetLastPInvokeError();
                if (got < 0 && error == Eintr) continue;
                throw new InvalidOperationException($"getrandom failed (errno {error})");
            }
        }
    }

    /// <summary>A uniform value in [0, <paramref name="toExclusive"/>).</summary>
    public static int GetInt32(int toExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(toExclusive);
        if (toExclusive == 1) return 0;
        // Rejection keeps it uniform: draws from the top partial range of 2^32 are redrawn.
        uint range = (uint)toExclusive;
        uint limit = uint.MaxValue - (uint.MaxValue % range + 1) % range;
        Span<byte> bytes = stackalloc byte[4];
        while (true)
        {
            Fill(bytes);
            uint value = BitConverter.ToUInt32(bytes);
            if (value <= limit) return (int)(value % range);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint getrandom(byte* buffer, nuint length, uint flags);
}
