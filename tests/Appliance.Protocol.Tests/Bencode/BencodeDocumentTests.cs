using System.Text;
using Appliance.Protocol.Bencode;

namespace Appliance.Protocol.Tests.Bencode;

public class BencodeDocumentTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    [Fact]
    public void Nodes_view_nested_values_and_their_exact_raw_bytes()
    {
        byte[] data = B("d4:infod6:lengthi5e4:name1:xe4:listli1e3:two1:3le4:lastee");
        var root = BencodeDocument.Parse(data).Root;
        Assert.True(root.IsDictionary);
        Assert.Equal(2, root.Count);
        Assert.Equal("d6:lengthi5e4:name1:xe", Encoding.Latin1.GetString(root["info"u8].RawSpan));
        Assert.Equal(5, root["info"u8]["length"u8].Integer);
        Assert.Equal("x", root["info"u8]["name"u8].Utf8);
        var items = new List<string>();
        foreach (var item in root["list"u8].Items) items.Add(item.ToString());
        Assert.Equal(["1", "two", "3", "list[0]", "last"], items);
        Assert.False(root["missing"u8].Exists);
        Assert.Equal(BencodeKind.None, root["missing"u8].Kind);
    }

    [Fact]
    public void Dictionary_entries_come_in_order_with_keys_and_values()
    {
        var root = BencodeDocument.Parse(B("d1:ai1e1:bli2ei3ee1:cd1:di4eee")).Root;
        var keys = new List<string>();
        foreach (var entry in root.Entries) keys.Add(Encoding.ASCII.GetString(entry.Key) + "=" + entry.Value.Kind);
        Assert.Equal(["a=Integer", "b=List", "c=Dictionary"], keys);
        Assert.Equal(4, root["c"u8]["d"u8].Integer);
    }

    [Fact]
    public void Asking_a_value_for_the_wrong_kind_says_what_it_is()
    {
        var root = BencodeDocument.Parse(B("d1:ai1ee")).Root;
        var error = Assert.Throws<InvalidOperationException>(() => root["a"u8].Bytes.Length);
        Assert.Contains("Integer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_throws_with_the_reason_and_offset()
    {
        var error = Assert.Throws<BencodeException>(() => BencodeDocument.Parse(B("d1:bi1e1:ai2ee")));
        Assert.Equal(BencodeErrorKind.DictionaryKeysUnsorted, error.Error.Kind);
        Assert.Contains("offset 7", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lookups_find_every_key_of_an_unsorted_dictionary()
    {
        var limits = BencodeLimits.Default with { AllowUnsortedKeys = true };
        var document = BencodeDocument.Parse(B("d1:zi1e1:mi2e1:ai3e1:qd1:yi4e1:bi5eee"), limits);
        Assert.False(document.KeysSorted);
        var root = document.Root;
        Assert.Equal((1, 2, 3), (root["z"u8].Integer, root["m"u8].Integer, root["a"u8].Integer));
        Assert.Equal((4, 5), (root["q"u8]["y"u8].Integer, root["q"u8]["b"u8].Integer));
        Assert.False(root["c"u8].Exists);
    }

    [Fact]
    public void A_sorted_document_is_marked_sorted()
    {
        Assert.True(BencodeDocument.Parse(B("d1:ai1e1:bi2ee"), BencodeLimits.Default with { AllowUnsortedKeys = true }).KeysSorted);
    }

    [Theory]
    [InlineData("i-7e")]
    [InlineData("0:")]
    [InlineData("le")]
    [InlineData("de")]
    [InlineData("d3:abci1e3:abdl0:e1:zd1:yi0eee")]
    [InlineData("ll1:aelleei99ee")]
    public void Round_trips_byte_for_byte(string text)
    {
        byte[] data = B(text);
        var buffer = new byte[data.Length + 16];
        var writer = new BencodeWriter(buffer);
        Copy(BencodeDocument.Parse(data).Root, ref writer);
        Assert.Equal(text, Encoding.Latin1.GetString(writer.Written));
    }

    private static void Copy(BencodeNode node, ref BencodeWriter writer)
    {
        switch (node.Kind)
        {
            case BencodeKind.Integer: writer.WriteInteger(node.Integer); break;
            case BencodeKind.ByteString: writer.WriteString(node.Bytes); break;
            case BencodeKind.List:
                writer.WriteListStart();
                foreach (var item in node.Items) Copy(item, ref writer);
                writer.WriteEnd();
                break;
            case BencodeKind.Dictionary:
                writer.WriteDictionaryStart();
                foreach (var entry in node.Entries)
                {
                    writer.WriteKey(entry.Key);
                    Copy(entry.Value, ref writer);
                }
                writer.WriteEnd();
                break;
        }
    }
}
