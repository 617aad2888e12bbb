using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Appliance.Protocol.Encryption;

/// <summary>
/// Exponentiation modulo MSE's 768-bit prime, in Montgomery form on 12 limbs of 64 bits, on the stack. It replaces
/// <see cref="BigInteger.ModPow(BigInteger, BigInteger, BigInteger)"/>, which took about 1.2 ms of CPU per exponentiation
/// here (two per encrypted handshake: the whole cost of one) and allocated on every call. Not constant-time: MSE's
/// key exchange is unauthenticated obfuscation, and a private key lives for one handshake.
/// </summary>
internal static class MsePrimeField
{
    public const int Limbs = 12;
    public const int Bytes = Limbs * 8;

    private static readonly ulong[] Modulus = new ulong[Limbs];
    private static readonly ulong[] RSquared = new ulong[Limbs];
    private static readonly ulong NegativeInverse;

    static MsePrimeField()
    {
        Span<byte> bigEndian = stackalloc byte[Bytes];
        Prime.TryWriteBytes(bigEndian, out _, isUnsigned: true, isBigEndian: true);
        FromBigEndian(bigEndian, Modulus);
        // R = 2^768; R² mod P moves a number into Montgomery form with one multiplication.
        var r2 = BigInteger.ModPow(2, 2 * 64 * Limbs, Prime);
        bigEndian.Clear();
        r2.TryWriteBytes(bigEndian[(Bytes - r2.GetByteCount(isUnsigned: true))..], out _, isUnsigned: true, isBigEndian: true);
        FromBigEndian(bigEndian, RSquared);
        // Newton's iteration for P⁻¹ mod 2⁶⁴: P·P ≡ 1 (mod 8) for odd P, and each step doubles the correct bits.
        ulong inverse = Modulus[0];
        for (int i = 0; i < 5; i++) inverse *= 2 - Modulus[0] * inverse;
        NegativeInverse = 0 - inverse;
    }

    public static BigInteger Prime { get; } = new(Convert.FromHexString(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563"),
        isUnsigned: true, isBigEndian: true);

    /// <summary>Reads 96 big-endian bytes into little-endian limbs.</summary>
    public static void FromBigEndian(ReadOnlySpan<byte> bigEndian, Span<ulong> limbs)
    {
        for (int k = 0; k < Limbs; k++) limbs[k] = BinaryPrimitives.ReadUInt64BigEndian(bigEndian[(Bytes - 8 * (k + 1))..]);
    }

    public static void ToBigEndian(ReadOnlySpan<ulong> limbs, Span<byte> bigEndian)
    {
        for (int k = 0; k < Limbs; k++) BinaryPrimitives.WriteUInt64BigEndian(bigEndian[(Bytes - 8 * (k + 1))..], limbs[k]);
    }

    /// <summary>True for 2 ≤ value ≤ P − 2, the public keys that do not force a known secret.</summary>
    public static bool IsUsablePublicKey(ReadOnlySpan<ulong> value)
    {
        bool aboveOne = value[0] > 1;
        for (int k = 1; k < Limbs && !aboveOne; k++) aboveOne = value[k] != 0;
        if (!aboveOne) return false;
        // P is odd, so P − 1 differs from P in the lowest limb only.
        for (int k = Limbs - 1; k > 0; k--)
        {
            if (value[k] != Modulus[k]) return value[k] < Modulus[k];
        }
        return value[0] < Modulus[0] - 1;
    }

    /// <summary>result = base^exponent mod P; <paramref name="value"/> must be below P, the exponent is big-endian.</summary>
    public static void Power(ReadOnlySpan<ulong> value, ReadOnlySpan<byte> exponent, Span<ulong> result)
    {
        // A window of 4 bits: the powers 0..15 of the base, in Montgomery form.
        Span<ulong> table = stackalloc ulong[16 * Limbs];
        Span<ulong> one = stackalloc ulong[Limbs];
        one.Clear();
        one[0] = 1;
        Multiply(one, RSquared, table[..Limbs]);
        Multiply(value, RSquared, table.Slice(Limbs, Limbs));
        for (int k = 2; k < 16; k++) Multiply(table.Slice((k - 1) * Limbs, Limbs), table.Slice(Limbs, Limbs), table.Slice(k * Limbs, Limbs));

        Span<ulong> accumulator = stackalloc ulong[Limbs];
        table[..Limbs].CopyTo(accumulator);
        bool started = false;
        foreach (byte b in exponent)
        {
            for (int shift = 4; shift >= 0; shift -= 4)
            {
                int nibble = (b >> shift) & 0xF;
                if (started)
                {
                    for (int s = 0; s < 4; s++) Multiply(accumulator, accumulator, accumulator);
                }
                if (nibble != 0 || started)
                {
                    Multiply(accumulator, table.Slice(nibble * Limbs, Limbs), accumulator);
                    started = true;
                }
            }
        }
        // Out of Montgomery form: multiply by plain 1.
        Multiply(accumulator, one, result);
    }

    /// <summary>result = a·b·R⁻¹ mod P (CIOS Montgomery multiplication); result may alias a or b.</summary>
    private static void Multiply(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> result)
    {
        Span<ulong> t = stackalloc ulong[Limbs + 2];
        t.Clear();
        ReadOnlySpan<ulong> modulus = Modulus;
        if (a.Length < Limbs || b.Length < Limbs) throw new ArgumentException("operands are 12 limbs");
        ref ulong tr = ref MemoryMarshal.GetReference(t);
        ref ulong ar = ref MemoryMarshal.GetReference(a);
        ref ulong mr = ref MemoryMarshal.GetReference(modulus);
        for (int i = 0; i < Limbs; i++)
        {
            ulong bi = b[i];
            ulong carry = 0;
            // References, not indexers: the bounds checks cost as much as the multiplications in this loop.
            for (int j = 0; j < Limbs; j++)
            {
                ref ulong tj = ref Unsafe.Add(ref tr, j);
                tj = MultiplyAdd(Unsafe.Add(ref ar, j), bi, tj, ref carry);
            }
            ulong top = t[Limbs] + carry;
            t[Limbs + 1] = top < carry ? 1UL : 0UL;
            t[Limbs] = top;

            ulong m = t[0] * NegativeInverse;
            carry = 0;
            MultiplyAdd(m, modulus[0], t[0], ref carry); // the low limb becomes zero: that is the point of m
            for (int j = 1; j < Limbs; j++) Unsafe.Add(ref tr, j - 1) = MultiplyAdd(m, Unsafe.Add(ref mr, j), Unsafe.Add(ref tr, j), ref carry);
            top = t[Limbs] + carry;
            t[Limbs - 1] = top;
            t[Limbs] = t[Limbs + 1] + (top < carry ? 1UL : 0UL);
            t[Limbs + 1] = 0;
        }
        // t < 2P here: one subtraction at most.
        if (t[Limbs] != 0 || !Below(t[..Limbs], modulus))
        {
            ulong borrow = 0;
            for (int j = 0; j < Limbs; j++)
            {
                ulong x = t[j], y = modulus[j];
                ulong d = x - y - borrow;
                borrow = (x < y || (x == y && borrow == 1)) ? 1UL : 0UL;
                t[j] = d;
            }
        }
        t[..Limbs].CopyTo(result);
    }

    /// <summary>x·y + add + carry as 128 bits: returns the low half, leaves the high half in carry (it cannot overflow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MultiplyAdd(ulong x, ulong y, ulong add, ref ulong carry)
    {
        ulong high = Math.BigMul(x, y, out ulong low);
        low += add;
        high += low < add ? 1UL : 0UL;
        low += carry;
        high += low < carry ? 1UL : 0UL;
        carry = high;
        return low;
    }

    private static bool Below(ReadOnlySpan<ulong> x, ReadOnlySpan<ulong> y)
    {
        for (int k = Limbs - 1; k >= 0; k--)
        {
            if (x[k] != y[k]) return x[k] < y[k];
        }
        return false;
    }
}
