using System.Diagnostics;

namespace OpenReplica.Chaos;

/// <summary>
/// Each silo's data directory on its own small tmpfs volume, so one silo's disk can be filled while the others keep
/// room. <see cref="Fill"/> writes a filler file until the volume reports ENOSPC; <see cref="Free"/> deletes it (the
/// operator freeing space). Mounted before the silos start, unmounted after they exit. Needs root (mount); without
/// it the disk-full nemesis is skipped with a message.
/// </summary>
internal sealed class DiskVolumes : IDisposable
{
    public const int SizeMiB = 96;
    private readonly List<string> _mounted = [];

    public static bool Available => OperatingSystem.IsLinux() && Environment.UserName == "root";

    public void Mount(string directory)
    {
        Directory.CreateDirectory(directory);
        if (Run("mount", ["-t", "tmpfs", "-o", $"size={SizeMiB}m", "tmpfs", directory]) != 0)
            throw new InvalidOperationException($"mount -t tmpfs on {directory} failed");
        _mounted.Add(directory);
    }

    private static string Filler(string directory) => Path.Combine(directory, "chaos-filler");

    /// <summary>Fills the volume holding <paramref name="directory"/> to the last byte.</summary>
    public static void Fill(string directory)
    {
        var buffer = new byte[1 << 20];
        using var file = new FileStream(Filler(directory), FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        try
        {
            while (true) file.Write(buffer);
        }
        catch (IOException)
        {
            // ENOSPC: the volume is full. Top up the last partial block byte by byte.
            try
            {
                while (true) file.Write(buffer, 0, 1);
            }
            catch (IOException)
            {
            }
        }
    }

    public static void Free(string directory)
    {
        try { File.Delete(Filler(directory)); } catch (IOException) { }
    }

    public void Dispose()
    {
        foreach (string directory in _mounted) Run("umount", ["-l", directory]);
        _mounted.Clear();
    }

    private static int Run(string program, string[] arguments)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(program, arguments) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true });
            if (p is null) return -1;
            p.WaitForExit(10_000);
            return p.HasExited ? p.ExitCode : -1;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
