using System.Text;

namespace OpenReplica.Consensus;

/// <summary>
/// Binary encoding of everything a host ships or stores: messages, log entries, hard state and snapshots.
/// Little-endian, length-prefixed, versioned by a leading byte so a later format can be told apart.
/// Decoding rejects anything malformed with a <see cref="FormatException"/> naming what was wrong.
/// </summary>
public static class WireCodec
{
    private const byte Version = 1;

    private enum MessageTag : byte
    {
        Prepare = 1, Promise, Accept, Accepted, Rejected, Heartbeat, HeartbeatAck, CatchUpRequest, CatchUpResponse, InstallSnapshot, LeaseRelease,
    }

    /// <summary>Encodes a consensus message for the wire.</summary>
    public static byte[] Encode(Message message) => Write(message, static (w, message) =>
    {
        w.Write(Version);
        switch (message)
        {
            case Prepare m: Header(w, MessageTag.Prepare, m); WriteBallot(w, m.Ballot); w.Write(m.CommitIndex); break;
            case Promise m:
                Header(w, MessageTag.Promise, m); WriteBallot(w, m.Ballot); w.Write(m.CommitIndex); w.Write(m.SnapshotSlot);
                WriteEntries(w, m.Accepted); break;
            case Accept m: Header(w, MessageTag.Accept, m); WriteBallot(w, m.Ballot); WriteEntries(w, m.Entries); w.Write(m.CommitIndex); break;
            case Accepted m:
                Header(w, MessageTag.Accepted, m); WriteBallot(w, m.Ballot); w.Write(m.Slots.Count);
                for (int i = 0; i < m.Slots.Count; i++) w.Write(m.Slots[i]);
                break;
            case Rejected m: Header(w, MessageTag.Rejected, m); WriteBallot(w, m.Promised); break;
            case Heartbeat m: Header(w, MessageTag.Heartbeat, m); WriteBallot(w, m.Ballot); w.Write(m.CommitIndex); w.Write(m.ReadContext); break;
            case HeartbeatAck m: Header(w, MessageTag.HeartbeatAck, m); WriteBallot(w, m.Ballot); w.Write(m.ReadContext); w.Write(m.CommitIndex); break;
            case CatchUpRequest m: Header(w, MessageTag.CatchUpRequest, m); w.Write(m.FromSlot); w.Write(m.ToSlot); break;
            case CatchUpResponse m: Header(w, MessageTag.CatchUpResponse, m); WriteEntries(w, m.Entries); w.Write(m.CommitIndex); break;
            case InstallSnapshot m: Header(w, MessageTag.InstallSnapshot, m); WriteSnapshot(w, m.Snapshot); break;
            case LeaseRelease m: Header(w, MessageTag.LeaseRelease, m); WriteBallot(w, m.Ballot); break;
            default: throw new ArgumentException($"cannot encode message type {message.GetType().Name}", nameof(message));
        }
    });

    /// <summary>Decodes a message made by <see cref="Encode(Message)"/>; throws <see cref="FormatException"/> on anything malformed.</summary>
    public static Message DecodeMessage(ReadOnlySpan<byte> bytes) => Read<Message>(bytes, r =>
    {
        var tag = (MessageTag)r.ReadByte();
        long from = r.ReadInt64(), to = r.ReadInt64();
        return tag switch
        {
            MessageTag.Prepare => new Prepare(from, to, ReadBallot(r), r.ReadInt64()),
            MessageTag.Promise => new Promise(from, to, ReadBallot(r), r.ReadInt64(), r.ReadInt64(), ReadEntries(r)),
            MessageTag.Accept => new Accept(from, to, ReadBallot(r), ReadEntries(r), r.ReadInt64()),
            MessageTag.Accepted => new Accepted(from, to, ReadBallot(r), ReadLongs(r)),
            MessageTag.Rejected => new Rejected(from, to, ReadBallot(r)),
            MessageTag.Heartbeat => new Heartbeat(from, to, ReadBallot(r), r.ReadInt64(), r.ReadInt64()),
            MessageTag.HeartbeatAck => new HeartbeatAck(from, to, ReadBallot(r), r.ReadInt64(), r.ReadInt64()),
            MessageTag.CatchUpRequest => new CatchUpRequest(from, to, r.ReadInt64(), r.ReadInt64()),
            MessageTag.CatchUpResponse => new CatchUpResponse(from, to, ReadEntries(r), r.ReadInt64()),
            MessageTag.InstallSnapshot => new InstallSnapshot(from, to, ReadSnapshot(r)),
            MessageTag.LeaseRelease => new LeaseRelease(from, to, ReadBallot(r)),
            _ => throw new FormatException($"unknown message tag {(byte)tag}"),
        };
    });

    /// <summary>Encodes a log entry for the write-ahead log.</summary>
    public static byte[] Encode(LogEntry entry) => Write(entry, static (w, entry) => { w.Write(Version); WriteEntry(w, entry); });

    /// <summary>Decodes a log entry made by <see cref="Encode(LogEntry)"/>.</summary>
    public static LogEntry DecodeEntry(ReadOnlySpan<byte> bytes) => Read(bytes, ReadEntry);

    /// <summary>Encodes the durable promise and commit index.</summary>
    public static byte[] Encode(HardState state) => Write(state, static (w, state) =>
    {
        w.Write(Version);
        WriteBallot(w, state.Promised);
        w.Write(state.CommitIndex);
        // Only a replica started from a peer's view has a floor: every other hard state keeps its earlier bytes.
        if (state.VoteFloor != 0) w.Write(state.VoteFloor);
    });

    /// <summary>Decodes a hard state made by <see cref="Encode(HardState)"/>.</summary>
    public static HardState DecodeHardState(ReadOnlySpan<byte> bytes) => Read(bytes, static r =>
    {
        var promised = ReadBallot(r);
        long commit = r.ReadInt64();
        long floor = r.BaseStream.Position < r.BaseStream.Length ? r.ReadInt64() : 0;
        if (floor < 0) throw new FormatException($"negative vote floor {floor}");
        return new HardState(promised, commit, floor);
    });

    /// <summary>Encodes a snapshot (configurations, sessions, application state).</summary>
    public static byte[] Encode(Snapshot snapshot) => Write(snapshot, static (w, snapshot) => { w.Write(Version); WriteSnapshot(w, snapshot); });

    /// <summary>Decodes a snapshot made by <see cref="Encode(Snapshot)"/>.</summary>
    public static Snapshot DecodeSnapshot(ReadOnlySpan<byte> bytes) => Read(bytes, ReadSnapshot);

    /// <summary>Encodes a configuration.</summary>
    public static byte[] Encode(ClusterConfig config) => Write(config, static (w, config) => { w.Write(Version); WriteConfig(w, config); });

    /// <summary>Decodes a configuration made by <see cref="Encode(ClusterConfig)"/>.</summary>
    public static ClusterConfig DecodeConfig(ReadOnlySpan<byte> bytes) => Read(bytes, ReadConfig);

    private static void Header(BinaryWriter w, MessageTag tag, Message m)
    {
        w.Write((byte)tag);
        w.Write(m.From);
        w.Write(m.To);
    }

    private static void WriteBallot(BinaryWriter w, Ballot b)
    {
        w.Write(b.Round);
        w.Write(b.ReplicaId);
    }

    private static Ballot ReadBallot(BinaryReader r) => new(r.ReadInt64(), r.ReadInt64());

    private static void WriteEntries(BinaryWriter w, IReadOnlyList<LogEntry> entries)
    {
        w.Write(entries.Count);
        for (int i = 0; i < entries.Count; i++) WriteEntry(w, entries[i]);
    }

    private static List<LogEntry> ReadEntries(BinaryReader r)
    {
        int count = ReadCount(r, MinEntryBytes);
        var list = new List<LogEntry>(count);
        for (int i = 0; i < count; i++) list.Add(ReadEntry(r));
        return list;
    }

    private static long[] ReadLongs(BinaryReader r)
    {
        var values = new long[ReadCount(r, sizeof(long))];
        for (int i = 0; i < values.Length; i++) values[i] = r.ReadInt64();
        return values;
    }

    private static void WriteEntry(BinaryWriter w, LogEntry e)
    {
        w.Write(e.Slot);
        WriteBallot(w, e.Ballot);
        w.Write(e.Chosen);
        WriteValue(w, e.Value);
    }

    private static LogEntry ReadEntry(BinaryReader r)
    {
        long slot = r.ReadInt64();
        var ballot = ReadBallot(r);
        bool chosen = r.ReadBoolean();
        return new LogEntry(slot, ballot, ReadValue(r), chosen);
    }

    private static void WriteValue(BinaryWriter w, LogValue v)
    {
        w.Write((byte)v.Kind);
        switch (v.Kind)
        {
            case LogValueKind.Config: WriteConfig(w, v.Config!); break;
            case LogValueKind.Commands:
                w.Write(v.Commands.Count);
                Span<byte> client = stackalloc byte[16];
                for (int i = 0; i < v.Commands.Count; i++)
                {
                    var c = v.Commands[i];
                    c.ClientId.TryWriteBytes(client); // the layout ToByteArray has, without an array per command
                    w.Write(client);
                    w.Write(c.Sequence);
                    w.Write(c.FirstUnacknowledged);
                    w.Write(c.Payload.Length);
                    w.Write(c.Payload);
                }
                break;
        }
    }

    private static LogValue ReadValue(BinaryReader r)
    {
        var kind = (LogValueKind)r.ReadByte();
        switch (kind)
        {
            case LogValueKind.Noop: return LogValue.Noop;
            case LogValueKind.Config: return LogValue.ConfigChange(ReadConfig(r));
            case LogValueKind.Commands:
                int count = ReadCount(r, MinCommandBytes);
                if (count == 0) throw new FormatException("a command batch must not be empty");
                var commands = new List<Command>(count);
                for (int i = 0; i < count; i++)
                {
                    var client = new Guid(r.ReadBytes(16));
                    long seq = r.ReadInt64(), floor = r.ReadInt64();
                    commands.Add(new Command(client, seq, floor, r.ReadBytes(ReadCount(r, 1))));
                }
                return LogValue.Batch(commands);
            default: throw new FormatException($"unknown log value kind {(byte)kind}");
        }
    }

    private static void WriteConfig(BinaryWriter w, ClusterConfig c)
    {
        w.Write(c.Members.Count);
        foreach (long m in c.Members) w.Write(m);
    }

    private static ClusterConfig ReadConfig(BinaryReader r)
    {
        long[] members = ReadLongs(r);
        if (members.Length == 0) throw new FormatException("a configuration needs at least one member");
        return new ClusterConfig(members);
    }

    private static void WriteSnapshot(BinaryWriter w, Snapshot s)
    {
        w.Write(s.Slot);
        w.Write(s.Configs.Epochs.Count);
        foreach (var (from, config) in s.Configs.Epochs)
        {
            w.Write(from);
            WriteConfig(w, config);
        }
        var rows = s.Sessions.Rows.ToList();
        w.Write(s.Sessions.MaxSessions);
        w.Write(rows.Count);
        foreach (var row in rows)
        {
            w.Write(row.ClientId.ToByteArray());
            w.Write(row.Floor);
            w.Write(row.LastSlot);
            w.Write(row.Applied.Length);
            foreach (long a in row.Applied) w.Write(a);
        }
        w.Write(s.AppState.Length);
        w.Write(s.AppState);
    }

    private static Snapshot ReadSnapshot(BinaryReader r)
    {
        long slot = r.ReadInt64();
        int epochs = ReadCount(r, MinEpochBytes);
        if (epochs == 0) throw new FormatException("a snapshot needs at least one configuration epoch");
        var list = new List<(long, ClusterConfig)>(epochs);
        for (int i = 0; i < epochs; i++) list.Add((r.ReadInt64(), ReadConfig(r)));
        int maxSessions = r.ReadInt32();
        int rowCount = ReadCount(r, MinSessionRowBytes);
        var rows = new List<SessionRow>(rowCount);
        for (int i = 0; i < rowCount; i++) rows.Add(new SessionRow(new Guid(r.ReadBytes(16)), r.ReadInt64(), r.ReadInt64(), ReadLongs(r)));
        byte[] app = r.ReadBytes(ReadCount(r, 1));
        return new Snapshot(slot, ConfigHistory.FromEpochs(list), SessionTable.FromRows(rows, Math.Max(1, maxSessions)), app);
    }

    // The fewest bytes one element of each list can take: a count is refused when the bytes left cannot hold that
    // many, so a hostile count never makes the decoder allocate more than the input's size.
    private const int MinEntryBytes = 8 + 16 + 1 + 1;
    private const int MinCommandBytes = 16 + 8 + 8 + 4;
    private const int MinEpochBytes = 8 + 4 + 8;
    private const int MinSessionRowBytes = 16 + 8 + 8 + 4;

    private static int ReadCount(BinaryReader r, int minBytesEach)
    {
        int count = r.ReadInt32();
        long left = r.BaseStream.Length - r.BaseStream.Position;
        if (count < 0 || (long)count * minBytesEach > left)
        {
            throw new FormatException($"implausible length {count} at byte {r.BaseStream.Position - 4} ({left} bytes left)");
        }
        return count;
    }

    private static byte[] Write<TValue>(TValue value, Action<BinaryWriter, TValue> write)
    {
        // Every record and message is encoded here, so the stream and writer are reused (per thread; an encoding
        // nested in another one gets its own), and only the result is allocated; the value is passed to a static
        // lambda rather than captured, so no closure is made per encoding either.
        var writer = t_writer ?? new BinaryWriter(new MemoryStream(256), Encoding.UTF8, leaveOpen: false);
        t_writer = null;
        var stream = (MemoryStream)writer.BaseStream;
        stream.SetLength(0);
        try
        {
            write(writer, value);
            writer.Flush();
            return stream.ToArray();
        }
        finally
        {
            // A huge value does not stay pinned in a thread's cache.
            if (stream.Capacity <= MaxCachedWriterBytes) t_writer = writer;
        }
    }

    private const int MaxCachedWriterBytes = 1 << 20;

    [ThreadStatic]
    private static BinaryWriter? t_writer;

    [ThreadStatic]
    private static CachedReader? t_reader;

    private static T Read<T>(ReadOnlySpan<byte> bytes, Func<BinaryReader, T> read)
    {
        // Every message a silo receives is decoded here: the bytes are copied into a reused per-thread buffer read by
        // a reused stream and reader (a stream, a reader with its decoder and a copy of the bytes per message
        // before). A decoding nested in another one gets its own; a huge one is not kept.
        var cached = t_reader;
        t_reader = null;
        if (cached is null || cached.Buffer.Length < bytes.Length) cached = new CachedReader(Math.Max(256, bytes.Length));
        var stream = cached.Stream;
        var r = cached.Reader;
        // Length first: growing it clears the bytes between the old and the new end.
        stream.SetLength(bytes.Length);
        stream.Position = 0;
        bytes.CopyTo(cached.Buffer);
        try
        {
            byte version = r.ReadByte();
            if (version != Version) throw new FormatException($"unknown encoding version {version}");
            var value = read(r);
            if (stream.Position != stream.Length) throw new FormatException($"{stream.Length - stream.Position} trailing bytes");
            return value;
        }
        catch (EndOfStreamException)
        {
            throw new FormatException($"truncated: {bytes.Length} bytes");
        }
        catch (ArgumentException e)
        {
            // A value's own validation (a constructor) refused what the bytes say.
            throw new FormatException($"invalid value: {e.Message}", e);
        }
        finally
        {
            if (cached.Buffer.Length <= MaxCachedWriterBytes) t_reader = cached;
        }
    }

    /// <summary>A reader over a fixed buffer whose readable length is set per decoding.</summary>
    private sealed class CachedReader
    {
        public CachedReader(int capacity)
        {
            Buffer = new byte[capacity];
            // Writable and not expandable: SetLength then moves the end within the buffer; nothing ever writes.
            Stream = new MemoryStream(Buffer, 0, capacity, writable: true, publiclyVisible: false);
            Reader = new BinaryReader(Stream, Encoding.UTF8, leaveOpen: true);
        }

        public byte[] Buffer { get; }

        public MemoryStream Stream { get; }

        public BinaryReader Reader { get; }
    }
}
