using OpenReplica.Cli;
using OpenReplica.Storage;

namespace OpenReplica.Checker.Tests;

/// <summary>`openreplica wal inspect|verify` on a real WAL written by the storage library.</summary>
public sealed class WalCliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "openreplica-walcli-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = CommandRunner.Run(Program.CreateRootCommand(), args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private async Task WriteLogAsync()
    {
        await using var wal = WriteAheadLog.Open(new WalOptions { Directory = _dir });
        for (int slot = 1; slot <= 20; slot++)
        {
            await wal.AppendAsync(new WalRecord("grain-a", WalRecordKind.Accept, slot, 3, 7, new byte[64]), TestContext.Current.CancellationToken);
        }
        await wal.AppendAsync(new WalRecord("grain-b", WalRecordKind.HardState, 0, 5, 2, new byte[8]), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Verify_and_inspect_a_healthy_log()
    {
        await WriteLogAsync();
        var verify = Run("wal", "verify", _dir);
        Assert.Equal(0, verify.Exit);
        Assert.StartsWith("ok:", verify.Out);

        var inspect = Run("wal", "inspect", _dir);
        Assert.Equal(0, inspect.Exit);
        Assert.Contains("grain-a: 20 records", inspect.Out);
        Assert.Contains("slots 1..20", inspect.Out);
        Assert.Contains("max ballot 3.7", inspect.Out);
        Assert.Contains("grain-b", inspect.Out);
    }

    [Fact]
    public async Task Verify_names_file_and_offset_of_a_flipped_bit()
    {
        await WriteLogAsync();
        var segment = Directory.EnumerateFiles(_dir, "wal-*.log").Single();
        var bytes = await File.ReadAllBytesAsync(segment, TestContext.Current.CancellationToken);
        bytes[bytes.Length / 2] ^= 0x10;
        await File.WriteAllBytesAsync(segment, bytes, TestContext.Current.CancellationToken);

        var verify = Run("wal", "verify", _dir);
        Assert.Equal(1, verify.Exit);
        Assert.Contains("corrupt:", verify.Err);
        Assert.Contains(Path.GetFileName(segment), verify.Err);
        Assert.Matches(@"at offset \d+", verify.Err);
    }

    [Fact]
    public void A_missing_directory_is_bad_input()
    {
        var verify = Run("wal", "verify", _dir);
        Assert.Equal(2, verify.Exit);
        Assert.Contains("does not exist", verify.Err);
        Assert.Equal(2, Run("wal", "inspect", _dir).Exit);
    }
}
