using System.Runtime.InteropServices;

namespace OpenReplica.Storage;

/// <summary>libc calls for directory fsync: .NET refuses to open a directory as a file on Unix.</summary>
internal static class PosixDirectory
{
#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe blocks; these calls are cold (rotation, snapshot).
    [DllImport("libc", SetLastError = true)]
    internal static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    internal static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    internal static extern int close(int fd);
#pragma warning restore SYSLIB1054
}
