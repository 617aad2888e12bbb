using Appliance.Protocol.Encryption;

namespace Appliance.Protocol.Tests.Encryption;

public sealed class Rc4Tests
{
    /// <summary>RC4 as the textbook states it, one byte at a time, with MSE's 1024 discarded bytes.</summary>
    private static byte[] ReferenceKeyStream(byte[] key, int length)
    {
        var s = new byte[256];
        for (int n = 0; n < 256; n++) s[n] = (byte)n;
        int j = 0;
        for (int n = 0; n < 256; n++)
        {
            j = (j + s[n] + key[n % key.Length]) % 256;
            (s[n], s[j]) = (s[j], s[n]);
        }
        var stream = new byte[Rc4.DiscardedBytes + length];
        int i = 0;
        j = 0;
        for (int n = 0; n < stream.Length; n++)
        {
            i = (i + 1) % 256;
            j = (j + s[i]) % 256;
            (s[i], s[j]) = (s[j], s[i]);
            stream[n] = s[(s[i] + s[j]) % 256];
        }
        return stream[Rc4.DiscardedBytes..];
    }

    [Theory]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 7, 8, 9 })]
    [InlineData(new[] { 16_384, 13, 16_384 })]
    [InlineData(new[] { 3, 0, 64, 5, 1000, 17 })]
    public void Key_stream_matches_the_textbook_cipher_across_any_split_of_the_data(int[] chunks)
    {
        var key = "a 20-byte MSE key...."u8[..20].ToArray();
        var data = new byte[chunks.Sum()];
        new Random(chunks.Length).NextBytes(data);
        var expected = ReferenceKeyStream(key, data.Length);
        for (int n = 0; n < data.Length; n++) expected[n] ^= data[n];

        var cipher = new Rc4(key);
        int offset = 0;
        foreach (int chunk in chunks)
        {
            cipher.Apply(data.AsSpan(offset, chunk));
            offset += chunk;
        }

        Assert.Equal(expected, data);
    }

    [Fact]
    public void Applying_the_same_key_stream_twice_gives_the_plaintext_back()
    {
        var plain = new byte[40_001];
        new Random(3).NextBytes(plain);
        var data = plain.ToArray();
        new Rc4("key"u8).Apply(data);
        Assert.NotEqual(plain, data);
        new Rc4("key"u8).Apply(data);
        Assert.Equal(plain, data);
    }
}
