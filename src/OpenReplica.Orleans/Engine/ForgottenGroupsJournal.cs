using OpenReplica.Consensus;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// <see cref="ForgottenGroups"/>' notes in the silo's data directory, so a Persisted silo back under its identity
/// still refuses to start an empty replica of a group it dropped from a view no newer than its dropped replica's. A
/// lagging peer's message after the restart named a configuration in which that replica had voted, and the new empty
/// one would have been an acceptor there without its votes (docs/placement.md, Limits, before session 32).
/// An append-only journal: "FG1\n", then records of [payload length][payload][CRC-32 of the payload], where a payload
/// is a kind (1: forgot, with the slot; 2: held again; 3: forgot, with the slot and what the replica left: its promised
/// ballot's round and replica id and the highest slot it held, since session 34), the slot, those three for kind 3,
/// and the group id in UTF-8. A note whose replica left nothing is written as kind 1, the bytes it had before. A note
/// is fsynced before the replica's records are deleted (<see cref="Forgot"/>); "held again" rides along with the next
/// fsync (lost, it only leaves a note for a group this silo holds, which nothing reads). A crash can tear only the last
/// record, which is dropped. Compacted to the live notes when opened and whenever dead records outnumber them.
/// </summary>
internal sealed class ForgottenGroupsJournal : IDisposable
{
    public const string FileName = "forgotten-groups.journal";

    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("FG1\n");
    private const byte KindForgot = 1;
    private const byte KindHeld = 2;
    private const byte KindForgotWithFormer = 3;
    private const int HeaderBytes = 1 + 8; // kind, slot
    private const int FormerBytes = 3 * 8; // promised round and replica id, held-through slot
    private const int MaxGroupIdBytes = 64 * 1024;
    private const int CompactAfterRecords = 1024;

    private readonly string _path;
    private readonly Lock _lock = new();
    private FileStream _stream;
    private long _records; // records in the file now (live notes after a compaction, plus every append since)

    private ForgottenGroupsJournal(string path, FileStream stream, long records)
    {
        _path = path;
        _stream = stream;
        _records = records;
    }

    /// <summary>Opens (or creates) the journal in <paramref name="directory"/> and returns the notes it holds.</summary>
    /// <exception cref="InvalidDataException">The file is not a journal of forgotten groups.</exception>
    public static ForgottenGroupsJournal Open(string directory, out Dictionary<string, ForgottenNote> notes)
    {
        string path = Path.Combine(directory, FileName);
        int records = 0;
        bool whole = false;
        notes = File.Exists(path) ? Read(path, File.ReadAllBytes(path), out records, out whole) : [];
        // Rewritten only when it must be: a new journal, a torn tail (appends start after a whole record), or dead
        // records (compacted). A clean journal is opened as it is, without a write and two fsyncs at every start.
        if (!whole || records != notes.Count) OpenReplica.Storage.DurableFile.WriteAtomically(path, Encode(notes));
        return new ForgottenGroupsJournal(path, OpenForAppend(path), notes.Count);
    }

    /// <summary>Records durably that the silo dropped its replica of <paramref name="groupId"/>, whose note is now <paramref name="note"/>.</summary>
    public void Forgot(string groupId, ForgottenNote note) => Append(EncodeRecord(groupId, note), durable: true);

    /// <summary>Records that the silo holds a replica of <paramref name="groupId"/> again (its note is gone).</summary>
    public void Held(string groupId) => Append(EncodeRecord(KindHeld, groupId, 0, null), durable: false);

    /// <summary>Whether the journal holds enough dead records to be worth rewriting with the <paramref name="live"/> notes alone.</summary>
    public bool ShouldCompact(int live)
    {
        lock (_lock) return _records > CompactAfterRecords && _records > 2L * live;
    }

    /// <summary>
    /// Rewrites the journal with the live notes only (atomically: a crash leaves the old journal or the new one). The
    /// notes are read under the journal's lock: a note added to them before is in the new file, and one added after
    /// appends to it (read before the lock, a note appended to the old file in between was lost with it).
    /// </summary>
    public void Compact(Func<IReadOnlyDictionary<string, ForgottenNote>> live)
    {
        lock (_lock)
        {
            var notes = live();
            _stream.Dispose();
            OpenReplica.Storage.DurableFile.WriteAtomically(_path, Encode(notes));
            _stream = OpenForAppend(_path);
            _records = notes.Count;
        }
    }

    public void Dispose()
    {
        lock (_lock) _stream.Dispose();
    }

    private void Append(byte[] record, bool durable)
    {
        lock (_lock)
        {
            _stream.Write(record);
            _stream.Flush(flushToDisk: durable);
            _records++;
        }
    }

    private static FileStream OpenForAppend(string path) =>
        new(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 1, FileOptions.None);

    private static byte[] Encode(IReadOnlyDictionary<string, ForgottenNote> notes)
    {
        using var buffer = new MemoryStream();
        buffer.Write(Magic);
        foreach (var (groupId, note) in notes) buffer.Write(EncodeRecord(groupId, note));
        return buffer.ToArray();
    }

    private static byte[] EncodeRecord(string groupId, ForgottenNote note) => note.Former.IsNone
        ? EncodeRecord(KindForgot, groupId, note.LatestFromSlot, null)
        : EncodeRecord(KindForgotWithFormer, groupId, note.LatestFromSlot, note.Former);

    private static byte[] EncodeRecord(byte kind, string groupId, long slot, FormerReplica? former)
    {
        int idBytes = Encoding.UTF8.GetByteCount(groupId);
        int header = HeaderBytes + (former is null ? 0 : FormerBytes);
        var record = new byte[4 + header + idBytes + 4];
        var payload = record.AsSpan(4, header + idBytes);
        BinaryPrimitives.WriteInt32LittleEndian(record, payload.Length);
        payload[0] = kind;
        BinaryPrimitives.WriteInt64LittleEndian(payload[1..], slot);
        if (former is { } f)
        {
            BinaryPrimitives.WriteInt64LittleEndian(payload[9..], f.Promised.Round);
            BinaryPrimitives.WriteInt64LittleEndian(payload[17..], f.Promised.ReplicaId);
            BinaryPrimitives.WriteInt64LittleEndian(payload[25..], f.HeldThrough);
        }
        Encoding.UTF8.GetBytes(groupId, payload[header..]);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4 + payload.Length), Crc32.HashToUInt32(payload));
        return record;
    }

    /// <summary>
    /// The live notes of a journal's bytes: records in order up to the first torn or damaged one. <paramref name="records"/>
    /// counts the records read; <paramref name="whole"/> says whether they end where the bytes do.
    /// </summary>
    internal static Dictionary<string, ForgottenNote> Read(string path, ReadOnlySpan<byte> content, out int records, out bool whole)
    {
        records = 0;
        if (content.Length < Magic.Length || !content[..Magic.Length].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{path} is not a journal of forgotten groups (it does not start with \"FG1\"); move it out of the data directory");
        }
        var notes = new Dictionary<string, ForgottenNote>();
        var rest = content[Magic.Length..];
        while (rest.Length >= 4)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(rest);
            if (length < HeaderBytes || length > HeaderBytes + FormerBytes + MaxGroupIdBytes || rest.Length < 4 + length + 4) break; // torn tail
            var payload = rest.Slice(4, length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(rest[(4 + length)..]) != Crc32.HashToUInt32(payload)) break;
            long slot = BinaryPrimitives.ReadInt64LittleEndian(payload[1..]);
            byte kind = payload[0];
            if (kind == KindHeld)
            {
                notes.Remove(Encoding.UTF8.GetString(payload[HeaderBytes..]));
            }
            else if (kind == KindForgot || (kind == KindForgotWithFormer && length >= HeaderBytes + FormerBytes))
            {
                var former = kind == KindForgot ? FormerReplica.None : new FormerReplica(
                    new Ballot(BinaryPrimitives.ReadInt64LittleEndian(payload[9..]), BinaryPrimitives.ReadInt64LittleEndian(payload[17..])),
                    BinaryPrimitives.ReadInt64LittleEndian(payload[25..]));
                string groupId = Encoding.UTF8.GetString(payload[(kind == KindForgot ? HeaderBytes : HeaderBytes + FormerBytes)..]);
                var note = new ForgottenNote(slot, former);
                notes[groupId] = notes.TryGetValue(groupId, out var earlier) ? earlier.Max(note) : note;
            }
            else break;
            rest = rest[(4 + length + 4)..];
            records++;
        }
        whole = rest.IsEmpty;
        return notes;
    }
}
