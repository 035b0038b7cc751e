using System.Collections;
using System.IO.Hashing;
using System.Text;

namespace OpenReplica.Storage;

/// <summary>
/// A set of group ids that costs little per id, for sets that hold every group a silo ever had a replica of (the
/// groups found by recovery, the engine's held groups): each id is kept as its UTF-8 bytes behind a one- or two-byte
/// length in 64 KiB chunks, and an open-addressing table of 4-byte positions finds it. About the id's length plus
/// 8 bytes per id (a 30-character id: ≈ 40 B), where a <c>HashSet&lt;string&gt;</c> pays ≈ 110–130 B. Thread-safe;
/// enumeration walks a snapshot taken under the lock, so it never sees a half-made change.
/// </summary>
public sealed class GroupIdSet : IReadOnlyCollection<string>
{
    private const int ChunkBytes = 64 * 1024;            // below the large object heap's threshold
    private const uint Empty = 0;
    private const uint Removed = uint.MaxValue;
    private const int MinCapacity = 16;

    private readonly Lock _gate = new();
    private List<byte[]> _chunks = [new byte[ChunkBytes]];
    private int _used;                 // bytes used in the last chunk
    private uint[] _slots = new uint[MinCapacity]; // packed position + 1 (chunk << 16 | offset), Empty or Removed
    private int _count;
    private int _removedSlots;
    private long _liveBytes;
    private long _garbageBytes;

    /// <summary>Ids in the set.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _count;
        }
    }

    /// <summary>Bytes of managed memory the set holds (chunks and table), for measurements.</summary>
    public long AllocatedBytes
    {
        get
        {
            lock (_gate) return (long)_chunks.Count * ChunkBytes + (long)_slots.Length * sizeof(uint);
        }
    }

    /// <summary>Adds <paramref name="groupId"/>; false if it was there already.</summary>
    public bool Add(string groupId)
    {
        Span<byte> utf8 = Encode(groupId, stackalloc byte[RecordCodec.MaxGroupIdBytes]);
        ulong hash = XxHash3.HashToUInt64(utf8);
        lock (_gate)
        {
            if (Find(utf8, hash, out int free) >= 0) return false;
            uint position = Store(utf8);
            if (_slots[free] == Removed) _removedSlots--;
            _slots[free] = position + 1;
            _count++;
            _liveBytes += EntryBytes(utf8.Length);
            if ((_count + _removedSlots) * 4L > _slots.Length * 3L) Rebuild(Math.Max(MinCapacity, (int)Math.Min(int.MaxValue / 2, (long)_count * 2)), compact: false);
            return true;
        }
    }

    /// <summary>Removes <paramref name="groupId"/>; false if it was not there.</summary>
    public bool Remove(string groupId)
    {
        Span<byte> utf8 = Encode(groupId, stackalloc byte[RecordCodec.MaxGroupIdBytes]);
        ulong hash = XxHash3.HashToUInt64(utf8);
        lock (_gate)
        {
            int slot = Find(utf8, hash, out _);
            if (slot < 0) return false;
            _slots[slot] = Removed;
            _removedSlots++;
            _count--;
            int bytes = EntryBytes(utf8.Length);
            _liveBytes -= bytes;
            _garbageBytes += bytes;
            // Removed ids leave their bytes behind: once they outweigh the live ones, copy the live ones into new chunks.
            if (_garbageBytes > ChunkBytes && _garbageBytes > _liveBytes) Rebuild(Math.Max(MinCapacity, _slots.Length), compact: true);
            return true;
        }
    }

    /// <summary>Whether <paramref name="groupId"/> is in the set.</summary>
    public bool Contains(string groupId)
    {
        Span<byte> utf8 = Encode(groupId, stackalloc byte[RecordCodec.MaxGroupIdBytes]);
        ulong hash = XxHash3.HashToUInt64(utf8);
        lock (_gate) return Find(utf8, hash, out _) >= 0;
    }

    /// <summary>
    /// The ids now, as a list that decodes each id when it is read: 4 bytes per id while it lives (the chunks it reads
    /// are never written again at those positions), not a string per id.
    /// </summary>
    public IReadOnlyList<string> Snapshot()
    {
        lock (_gate)
        {
            var positions = new uint[_count];
            int n = 0;
            foreach (uint slot in _slots)
            {
                if (slot != Empty && slot != Removed) positions[n++] = slot - 1;
            }
            return new Snapshotted([.. _chunks], positions);
        }
    }

    /// <summary>Walks a <see cref="Snapshot"/>: changes made meanwhile are not seen.</summary>
    public IEnumerator<string> GetEnumerator() => Snapshot().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static Span<byte> Encode(string groupId, Span<byte> buffer)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupId);
        if (Encoding.UTF8.GetByteCount(groupId) > buffer.Length)
        {
            throw new ArgumentException($"Group id is longer than {RecordCodec.MaxGroupIdBytes} UTF-8 bytes.", nameof(groupId));
        }
        return buffer[..Encoding.UTF8.GetBytes(groupId, buffer)];
    }

    private static int EntryBytes(int length) => length + (length < 0x80 ? 1 : 2);

    /// <summary>The slot holding the id, or -1 with <paramref name="free"/> the slot an insert should take. Under the lock.</summary>
    private int Find(ReadOnlySpan<byte> utf8, ulong hash, out int free)
    {
        int mask = _slots.Length - 1;
        int i = (int)(hash & (uint)mask);
        free = -1;
        while (true)
        {
            uint slot = _slots[i];
            if (slot == Empty)
            {
                if (free < 0) free = i;
                return -1;
            }
            if (slot == Removed)
            {
                if (free < 0) free = i;
            }
            else if (Read(_chunks, slot - 1).SequenceEqual(utf8))
            {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// <summary>Appends the id's bytes behind their length; returns where. Under the lock.</summary>
    private uint Store(ReadOnlySpan<byte> utf8)
    {
        int need = EntryBytes(utf8.Length);
        if (_used + need > ChunkBytes)
        {
            if (_chunks.Count == ushort.MaxValue + 1) throw new InvalidOperationException("GroupIdSet is full (4 GiB of group ids).");
            _chunks.Add(new byte[ChunkBytes]);
            _used = 0;
        }
        byte[] chunk = _chunks[^1];
        int offset = _used;
        if (utf8.Length < 0x80)
        {
            chunk[offset] = (byte)utf8.Length;
        }
        else
        {
            chunk[offset] = (byte)(0x80 | (utf8.Length >> 8));
            chunk[offset + 1] = (byte)utf8.Length;
        }
        utf8.CopyTo(chunk.AsSpan(offset + need - utf8.Length));
        _used += need;
        return (uint)(_chunks.Count - 1) << 16 | (uint)offset;
    }

    private static ReadOnlySpan<byte> Read(IReadOnlyList<byte[]> chunks, uint position)
    {
        byte[] chunk = chunks[(int)(position >> 16)];
        int offset = (int)(position & 0xFFFF);
        int length = chunk[offset];
        int header = 1;
        if ((length & 0x80) != 0)
        {
            length = (length & 0x7F) << 8 | chunk[offset + 1];
            header = 2;
        }
        return chunk.AsSpan(offset + header, length);
    }

    /// <summary>A new table of <paramref name="capacity"/> (rounded up to a power of two); with <paramref name="compact"/>, new chunks too.</summary>
    private void Rebuild(int capacity, bool compact)
    {
        int size = MinCapacity;
        while (size < capacity || size * 3L < _count * 4L) size *= 2;
        var oldChunks = _chunks;
        var oldSlots = _slots;
        _slots = new uint[size];
        _removedSlots = 0;
        if (compact)
        {
            _chunks = [new byte[ChunkBytes]];
            _used = 0;
            _garbageBytes = 0;
        }
        int mask = size - 1;
        foreach (uint slot in oldSlots)
        {
            if (slot == Empty || slot == Removed) continue;
            ReadOnlySpan<byte> utf8 = Read(oldChunks, slot - 1);
            uint position = compact ? Store(utf8) : slot - 1;
            int i = (int)(XxHash3.HashToUInt64(utf8) & (uint)mask);
            while (_slots[i] != Empty) i = (i + 1) & mask;
            _slots[i] = position + 1;
        }
    }

    /// <summary>The ids at the time of <see cref="Snapshot"/>; each is decoded when read.</summary>
    private sealed class Snapshotted(byte[][] chunks, uint[] positions) : IReadOnlyList<string>
    {
        public string this[int index] => Encoding.UTF8.GetString(Read(chunks, positions[index]));

        public int Count => positions.Length;

        public IEnumerator<string> GetEnumerator()
        {
            for (int i = 0; i < positions.Length; i++) yield return this[i];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
