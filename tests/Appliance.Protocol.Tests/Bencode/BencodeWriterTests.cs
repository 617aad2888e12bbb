using System.Text;
using Appliance.Protocol.Bencode;
using Appliance.TestKit;

namespace Appliance.Protocol.Tests.Bencode;

public class BencodeWriterTests
{
    [Fact]
    public void Writes_canonical_encoding()
    {
        var buffer = new byte[128];
        var writer = new BencodeWriter(buffer);
        writer.WriteDictionaryStart();
        writer.WriteKey("a"u8);
        writer.WriteInteger(-3);
        writer.WriteKey("b"u8);
        writer.WriteListStart();
        writer.WriteString("héllo");
        writer.WriteString(""u8);
        writer.WriteEnd();
        writer.WriteEnd();
        Assert.Equal("d1:ai-3e1:bl6:héllo0:ee", Encoding.UTF8.GetString(writer.Written));
    }

    [Fact]
    public void Out_of_order_key_is_a_caller_bug()
    {
        var buffer = new byte[64];
        var writer = new BencodeWriter(buffer);
        writer.WriteDictionaryStart();
        writer.WriteKey("b"u8);
        writer.WriteInteger(1);
        bool threw = false;
        try { writer.WriteKey("a"u8); }
        catch (InvalidOperationException) { threw = true; }
        Assert.True(threw);
    }

    [Fact]
    public void Full_destination_throws_instead_of_truncating()
    {
        var buffer = new byte[4];
        var writer = new BencodeWriter(buffer);
        bool threw = false;
        try { writer.WriteString("too long"u8); }
        catch (InvalidOperationException) { threw = true; }
        Assert.True(threw);
    }

    [Fact]
    public void Writing_allocates_nothing()
    {
        var buffer = new byte[256];
        Write(buffer);
        Assert.Equal(0, ThreadAllocations.Quietest(() =>
        {
            for (int i = 0; i < 1000; i++) Write(buffer);
        }));

        static void Write(byte[] buffer)
        {
            var writer = new BencodeWriter(buffer);
            writer.WriteDictionaryStart();
            writer.WriteKey("id"u8);
            writer.WriteString("01234567890123456789"u8);
            writer.WriteKey("token"u8);
            writer.WriteInteger(123456789);
            writer.WriteEnd();
        }
    }
}

public class BencodeWriterSizingTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(999)]
    [InlineData(1000)]
    public void A_destination_of_exactly_the_encoded_size_is_enough(int length)
    {
        byte[] value = new byte[length];
        int size = length.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + 1 + length;
        var writer = new BencodeWriter(new byte[size]);
        writer.WriteString(value);
        Assert.Equal(size, writer.BytesWritten);
    }
}
