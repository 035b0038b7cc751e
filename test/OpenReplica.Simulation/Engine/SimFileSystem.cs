using System.Text.RegularExpressions;
using OpenReplica.Consensus;
using OpenReplica.Storage;

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// One silo's disk, in memory, with the crash semantics of a POSIX file system. Faults it injects:
/// - a crash loses every write not yet covered by an fsync of its file (<see cref="IFile.Flush"/>), except that a
///   random prefix of the unsynced tail of a file may survive (a torn tail: part of the last write made it);
/// - a crash loses every create, rename and delete not yet covered by an fsync of its directory.
/// Not injected: corruption of synced bytes or failed fsyncs (the WAL refuses to start or stops voting then, which
/// the storage tests cover; the simulator checks the engine on a disk that keeps what it promised).
/// </summary>
internal sealed class SimFileSystem : IFileSystem
{
    private Dictionary<string, Node> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Node> _durableNames = new(StringComparer.Ordinal);
    private int _incarnation;

    public long Fsyncs { get; private set; }

    public void CreateDirectory(string path)
    {
    }

    public bool FileExists(string path) => _names.ContainsKey(path);

    public IEnumerable<string> EnumerateFiles(string directory, string searchPattern)
    {
        var pattern = new Regex("^" + Regex.Escape(searchPattern).Replace("\\*", ".*").Replace("\\?", ".") + "$");
        return _names.Keys.Where(p => Path.GetDirectoryName(p) == directory && pattern.IsMatch(Path.GetFileName(p)))
            .Order(StringComparer.Ordinal).ToList();
    }

    public IFile Open(string path, FileMode mode)
    {
        bool exists = _names.TryGetValue(path, out var node);
        switch (mode)
        {
            case FileMode.Create:
            case FileMode.CreateNew when !exists:
                node = new Node();
                _names[path] = node;
                break;
            case FileMode.OpenOrCreate when !exists:
                node = new Node();
                _names[path] = node;
                break;
            case FileMode.Open or FileMode.OpenOrCreate when exists:
                break;
            default:
                throw new IOException($"simulated disk: cannot open '{path}' with {mode} (exists: {exists})");
        }
        return new Handle(this, node!);
    }

    public IFile OpenRead(string path) =>
        _names.TryGetValue(path, out var node) ? new Handle(this, node) : throw new FileNotFoundException("simulated disk", path);

    public void Delete(string path) => _names.Remove(path);

    public void Move(string source, string destination)
    {
        if (!_names.Remove(source, out var node)) throw new FileNotFoundException("simulated disk", source);
        _names[destination] = node;
    }

    public void FlushDirectory(string directory)
    {
        foreach (string path in _durableNames.Keys.Where(p => Path.GetDirectoryName(p) == directory).ToList())
        {
            if (!_names.ContainsKey(path)) _durableNames.Remove(path);
        }
        foreach (var (path, node) in _names)
        {
            if (Path.GetDirectoryName(path) == directory) _durableNames[path] = node;
        }
    }

    /// <summary>
    /// The process died: the namespace goes back to its last directory fsyncs, every file to its last fsync plus
    /// (sometimes) a random prefix of what was written after it. Handles of the dead process stop working.
    /// </summary>
    public void Crash(DeterministicRandom random, bool tornTails)
    {
        _incarnation++;
        _names = new Dictionary<string, Node>(_durableNames, StringComparer.Ordinal);
        foreach (var node in _names.Values.Distinct()) node.Crash(tornTails ? random : null);
    }

    private sealed class Node
    {
        private byte[] _data = [];
        private byte[] _durable = [];
        private long _length;
        private long _durableLength;
        private long _dirtyFrom = long.MaxValue;

        public long Length => _length;

        public int Read(Span<byte> buffer, long offset)
        {
            if (offset >= _length) return 0;
            int n = (int)Math.Min(buffer.Length, _length - offset);
            _data.AsSpan((int)offset, n).CopyTo(buffer);
            return n;
        }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            long end = offset + data.Length;
            Grow(ref _data, end);
            data.CopyTo(_data.AsSpan((int)offset));
            _length = Math.Max(_length, end);
            _dirtyFrom = Math.Min(_dirtyFrom, offset);
        }

        public void SetLength(long length)
        {
            Grow(ref _data, length);
            if (length > _length) Array.Clear(_data, (int)_length, (int)(length - _length));
            _length = length;
            _dirtyFrom = Math.Min(_dirtyFrom, length);
        }

        public void Flush()
        {
            Grow(ref _durable, _length);
            if (_dirtyFrom < _length) _data.AsSpan((int)_dirtyFrom, (int)(_length - _dirtyFrom)).CopyTo(_durable.AsSpan((int)_dirtyFrom));
            _durableLength = _length;
            _dirtyFrom = long.MaxValue;
        }

        public void Crash(DeterministicRandom? random)
        {
            long keep = _durableLength;
            // A torn tail: part of an unsynced append reached the disk (only appends past the durable end).
            if (random is not null && _dirtyFrom >= _durableLength && _length > _durableLength && random.Chance(0.5))
            {
                keep += random.Next(0, (int)(_length - _durableLength) + 1);
            }
            var data = new byte[Math.Max(keep, _durable.Length)];
            _durable.AsSpan(0, (int)Math.Min(_durableLength, keep)).CopyTo(data);
            if (keep > _durableLength) _data.AsSpan((int)_durableLength, (int)(keep - _durableLength)).CopyTo(data.AsSpan((int)_durableLength));
            _data = data;
            _length = keep;
            _durable = (byte[])data.Clone();
            _durableLength = keep;
            _dirtyFrom = long.MaxValue;
        }

        private static void Grow(ref byte[] buffer, long length)
        {
            if (length <= buffer.Length) return;
            Array.Resize(ref buffer, (int)Math.Max(length, Math.Min(int.MaxValue / 2, buffer.Length * 2L)));
        }
    }

    private sealed class Handle(SimFileSystem fs, Node node) : IFile
    {
        private readonly int _incarnation = fs._incarnation;

        public long Length => node.Length;

        public int Read(Span<byte> buffer, long offset) => node.Read(buffer, offset);

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            ThrowIfDead();
            node.Write(data, offset);
        }

        public void SetLength(long length)
        {
            ThrowIfDead();
            node.SetLength(length);
        }

        public void Flush()
        {
            ThrowIfDead();
            fs.Fsyncs++;
            node.Flush();
        }

        public void Dispose()
        {
        }

        // A handle of a crashed incarnation belongs to a dead process: it can write nothing more.
        private void ThrowIfDead()
        {
            if (_incarnation != fs._incarnation) throw new IOException("simulated disk: handle of a crashed process");
        }
    }
}
