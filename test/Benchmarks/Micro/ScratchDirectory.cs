namespace OpenReplica.Benchmarks;

/// <summary>A fresh directory under the temp path for one benchmark's log, deleted (if it was created) on dispose.</summary>
internal sealed class ScratchDirectory(string name) : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"openreplica-{name}-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}
