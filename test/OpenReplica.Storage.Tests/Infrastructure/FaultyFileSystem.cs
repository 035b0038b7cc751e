using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary>
/// In-memory file system that models what survives a power cut: file contents only up to their last fsync and
/// directory entries only as of the last directory fsync. It can also cut writes short, fail fsyncs, run out of
/// space and crash after a given number of operations.
/// </summary>
internal sealed class FaultyFileSystem : IFileSystem
{
    private readonly object _sync = new();
    private Dictionary<string, Node> _names = new(StringComparer.Ordinal);
    private Dictionary<string, Node> _durableNames = new(StringComparer.Ordinal);
    private Random? _crashTornWrites;
    private long _operations;
    private bool _crashed;

    /// <summary>fsyncs of files (directory fsyncs are counted separately).</summary>
    public int FileFsyncs { get; private set; }

    public int DirectoryFsyncs { get; private set; }

    public int Writes { get; private set; }

    /// <summary>Every file fsync throws while set.</summary>
    public bool FailFsync { get; set; }

    /// <summary>Total bytes the "disk" holds; a write beyond it is cut short and throws.</summary>
    public long? CapacityBytes { get; set; }

    /// <summary>Simulated device latency per file fsync.</summary>
    public TimeSpan FsyncDelay { get; set; }

    /// <summary>When set, the n-th following write/fsync/rename/delete crashes the machine instead of running.</summary>
    public long? CrashAfterOperations { get; set; }

    /// <summary>Used by crashes triggered through <see cref="CrashAfterOperations"/> to keep part of unsynced appends.</summary>
    public Random? TornWriteRandom { get; set; }

    public bool HasCrashed
    {
        get { lock (_sync) { return _crashed; } }
    }

    public static string Dir => "/wal";

    /// <summary>
    /// Power cut: from now on every operation fails, and <see cref="Restart"/> brings back only durable state.
    /// With <paramref name="tornWrites"/>, a random prefix of each file's unsynced appended bytes survives too.
    /// </summary>
    public void Crash(Random? tornWrites = null)
    {
        lock (_sync)
        {
            _crashed = true;
            _crashTornWrites = tornWrites;
        }
    }

    /// <summary>Reboot after <see cref="Crash"/>: the namespace and contents are what was durable.</summary>
    public void Restart()
    {
        lock (_sync)
        {
            var image = new Dictionary<string, Node>(StringComparer.Ordinal);
            foreach ((string path, Node node) in _durableNames)
            {
                image[path] = node.AfterCrash(_crashTornWrites);
            }

            _names = image;
            _durableNames = new Dictionary<string, Node>(image, StringComparer.Ordinal);
            _crashed = false;
            _crashTornWrites = null;
            CrashAfterOperations = null;
        }
    }

    /// <summary>A copy of the current (not only durable) state, for running many variants of one log.</summary>
    public FaultyFileSystem Clone()
    {
        lock (_sync)
        {
            var clone = new FaultyFileSystem();
            foreach ((string path, Node node) in _names)
            {
                Node copy = node.Copy();
                clone._names[path] = copy;
                if (_durableNames.TryGetValue(path, out Node? d) && ReferenceEquals(d, node))
                {
                    clone._durableNames[path] = copy;
                }
            }

            return clone;
        }
    }

    public byte[] ReadFile(string path)
    {
        lock (_sync)
        {
            return _names[path].Data.AsSpan(0, _names[path].Length).ToArray();
        }
    }

    /// <summary>Overwrites a file's content as if by an outside agent (bit rot, an operator), durably.</summary>
    public void ReplaceFile(string path, byte[] content)
    {
        lock (_sync)
        {
            var node = new Node();
            node.Write(content, 0);
            node.MarkDurable();
            _names[path] = node;
            _durableNames[path] = node;
        }
    }

    public IReadOnlyList<string> Files(string pattern)
    {
        lock (_sync)
        {
            return _names.Keys.Where(p => Matches(Path.GetFileName(p), pattern)).Order(StringComparer.Ordinal).ToList();
        }
    }

    public void CreateDirectory(string path)
    {
    }

    public bool FileExists(string path)
    {
        lock (_sync)
        {
            ThrowIfCrashed();
            return _names.ContainsKey(path);
        }
    }

    public IEnumerable<string> EnumerateFiles(string directory, string searchPattern)
    {
        lock (_sync)
        {
            ThrowIfCrashed();
            return _names.Keys.Where(p => Path.GetDirectoryName(p) == directory && Matches(Path.GetFileName(p), searchPattern)).ToList();
        }
    }

    /// <summary>Files opened so far (a lookup that searches the segments' index files opens them).</summary>
    public int Opens { get; private set; }

    /// <summary>Bytes read so far, from any file.</summary>
    public long BytesRead { get; private set; }

    public IFile Open(string path, FileMode mode)
    {
        lock (_sync)
        {
            ThrowIfCrashed();
            Opens++;
            bool exists = _names.TryGetValue(path, out Node? node);
            switch (mode)
            {
                case FileMode.Open when !exists:
                    throw new FileNotFoundException(path);
                case FileMode.CreateNew when exists:
                    throw new IOException($"'{path}' exists.");
                case FileMode.Create or FileMode.CreateNew:
                case FileMode.OpenOrCreate when !exists:
                    node = new Node();
                    _names[path] = node;
                    break;
            }

            return new FaultyFile(this, node!);
        }
    }

    public IFile OpenRead(string path) => Open(path, FileMode.Open);

    public void Delete(string path)
    {
        lock (_sync)
        {
            Operation();
            _names.Remove(path);
        }
    }

    public void Move(string source, string destination)
    {
        lock (_sync)
        {
            Operation();
            if (!_names.Remove(source, out Node? node))
            {
                throw new FileNotFoundException(source);
            }

            _names[destination] = node;
        }
    }

    public void FlushDirectory(string directory)
    {
        lock (_sync)
        {
            Operation();
            DirectoryFsyncs++;
            foreach (string path in _durableNames.Keys.Where(p => Path.GetDirectoryName(p) == directory).ToList())
            {
                _durableNames.Remove(path);
            }

            foreach ((string path, Node node) in _names.Where(p => Path.GetDirectoryName(p.Key) == directory))
            {
                _durableNames[path] = node;
            }
        }
    }

    private void ThrowIfCrashed()
    {
        if (_crashed)
        {
            throw new IOException("simulated crash: the machine is down");
        }
    }

    /// <summary>Counts a mutating operation and crashes on the configured one.</summary>
    private void Operation()
    {
        ThrowIfCrashed();
        _operations++;
        if (CrashAfterOperations is { } n && _operations >= n)
        {
            _crashed = true;
            _crashTornWrites = TornWriteRandom;
            ThrowIfCrashed();
        }
    }

    private long UsedBytes() => _names.Values.Distinct().Sum(n => (long)n.Length);

    private static bool Matches(string name, string pattern)
    {
        int star = pattern.IndexOf('*');
        return star < 0
            ? name == pattern
            : name.Length >= pattern.Length - 1 && name.StartsWith(pattern[..star], StringComparison.Ordinal)
              && name.EndsWith(pattern[(star + 1)..], StringComparison.Ordinal);
    }

    private sealed class Node
    {
        private byte[] _durable = [];

        public byte[] Data { get; private set; } = new byte[256];

        public int Length { get; private set; }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            int end = checked((int)offset + data.Length);
            if (end > Data.Length)
            {
                byte[] grown = new byte[Math.Max(end, Data.Length * 2)];
                Data.AsSpan(0, Length).CopyTo(grown);
                Data = grown;
            }

            data.CopyTo(Data.AsSpan((int)offset));
            Length = Math.Max(Length, end);
        }

        public void SetLength(long length)
        {
            if (length > Data.Length)
            {
                Write(new byte[length - Length], Length);
            }

            if (length < Length)
            {
                Data.AsSpan((int)length, Length - (int)length).Clear();
            }

            Length = (int)length;
        }

        public void MarkDurable() => _durable = Data.AsSpan(0, Length).ToArray();

        public Node AfterCrash(Random? tornWrites)
        {
            var node = new Node();
            node.Write(_durable, 0);
            // Appended-but-unsynced bytes may partly reach the disk; model a random prefix of them surviving.
            if (tornWrites is not null && Length > _durable.Length && Data.AsSpan(0, _durable.Length).SequenceEqual(_durable))
            {
                int extra = tornWrites.Next(0, Length - _durable.Length + 1);
                node.Write(Data.AsSpan(_durable.Length, extra), _durable.Length);
            }

            node.MarkDurable();
            return node;
        }

        public Node Copy()
        {
            var node = new Node();
            node.Write(_durable, 0);
            node.MarkDurable();
            node.Length = 0;
            node.Write(Data.AsSpan(0, Length), 0);
            node.Length = Length;
            return node;
        }
    }

    private sealed class FaultyFile(FaultyFileSystem fs, Node node) : IFile
    {
        public long Length
        {
            get { lock (fs._sync) { fs.ThrowIfCrashed(); return node.Length; } }
        }

        public int Read(Span<byte> buffer, long offset)
        {
            lock (fs._sync)
            {
                fs.ThrowIfCrashed();
                int count = (int)Math.Clamp(node.Length - offset, 0, buffer.Length);
                node.Data.AsSpan((int)offset, count).CopyTo(buffer);
                fs.BytesRead += count;
                return count;
            }
        }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            lock (fs._sync)
            {
                fs.Operation();
                fs.Writes++;
                if (fs.CapacityBytes is { } capacity)
                {
                    long growth = Math.Max(0, offset + data.Length - node.Length);
                    long free = capacity - fs.UsedBytes();
                    if (growth > free)
                    {
                        // A full disk writes what fits and then fails: a short write.
                        int fits = (int)Math.Max(0, free + (node.Length - offset));
                        node.Write(data[..Math.Min(fits, data.Length)], offset);
                        throw new IOException("No space left on device");
                    }
                }

                node.Write(data, offset);
            }
        }

        public void SetLength(long length)
        {
            lock (fs._sync)
            {
                fs.Operation();
                node.SetLength(length);
            }
        }

        public void Flush()
        {
            lock (fs._sync)
            {
                fs.Operation();
                fs.FileFsyncs++;
                if (fs.FailFsync)
                {
                    throw new IOException("Input/output error (simulated fsync failure)");
                }

                node.MarkDurable();
            }

            if (fs.FsyncDelay > TimeSpan.Zero)
            {
                Thread.Sleep(fs.FsyncDelay);
            }
        }

        public void Dispose()
        {
        }
    }
}
