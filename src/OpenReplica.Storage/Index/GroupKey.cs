using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace OpenReplica.Storage;

/// <summary>
/// A group id's fixed-size name in the cold index: the first 128 bits of the SHA-256 of its UTF-8 bytes, the same
/// hash that names snapshot files. Group ids are grain keys (chosen by users), so a cryptographic hash keeps crafted
/// ids from colliding; records read back are still checked against the full id.
/// </summary>
internal readonly record struct GroupKey(ulong High, ulong Low) : IComparable<GroupKey>
{
    public static GroupKey Of(string groupId)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        int length = Encoding.UTF8.GetByteCount(groupId);
        byte[]? rented = length > 256 ? new byte[length] : null;
        Span<byte> utf8 = rented ?? stackalloc byte[length];
        Encoding.UTF8.GetBytes(groupId, utf8);
        SHA256.HashData(utf8, hash);
        return new GroupKey(BinaryPrimitives.ReadUInt64BigEndian(hash), BinaryPrimitives.ReadUInt64BigEndian(hash[8..]));
    }

    public int CompareTo(GroupKey other) => High != other.High ? High.CompareTo(other.High) : Low.CompareTo(other.Low);
}
