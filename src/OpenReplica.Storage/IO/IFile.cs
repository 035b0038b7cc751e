namespace OpenReplica.Storage;

/// <summary>A positional file handle. Writes are durable only after <see cref="Flush"/> returns.</summary>
public interface IFile : IDisposable
{
    /// <summary>The file's length in bytes.</summary>
    long Length { get; }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>; returns the count read.</summary>
    int Read(Span<byte> buffer, long offset);

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/> or throws (possibly after a short write).</summary>
    void Write(ReadOnlySpan<byte> data, long offset);

    /// <summary>Cuts or extends the file to <paramref name="length"/> bytes (durable after <see cref="Flush"/>).</summary>
    void SetLength(long length);

    /// <summary>fsync: returns only when everything written so far is on stable storage.</summary>
    void Flush();
}
