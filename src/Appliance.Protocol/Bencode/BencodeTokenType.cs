namespace Appliance.Protocol.Bencode;

public enum BencodeTokenType : byte
{
    None = 0,
    Integer,
    ByteString,
    ListStart,
    DictionaryStart,
    End,
}
