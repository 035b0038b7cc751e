using System.CommandLine;
using System.Globalization;
using OpenReplica.Storage;

namespace OpenReplica.Cli;

/// <summary>
/// <c>openreplica wal inspect DIR</c> and <c>openreplica wal verify DIR</c>. Exit codes: 0 ok, 1 corruption,
/// 2 bad input (missing directory, unreadable files). The logic lives in OpenReplica.Storage's WalInspector;
/// this file only parses arguments and prints.
/// </summary>
internal static class WalCommand
{
    public static Command Create()
    {
        var wal = new Command("wal", "Inspect or verify a silo's write-ahead log directory.");
        wal.Subcommands.Add(CreateInspect());
        wal.Subcommands.Add(CreateVerify());
        return wal;
    }

    private static Command CreateInspect()
    {
        var directory = new Argument<DirectoryInfo>("DIR") { Description = "The silo's WAL directory (DataDirectory/wal)." };
        var inspect = new Command("inspect", "Show segments and per-group record counts, slot ranges and ballots.") { directory };
        inspect.SetAction(parse => Inspect(parse.GetValue(directory)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return inspect;
    }

    private static Command CreateVerify()
    {
        var directory = new Argument<DirectoryInfo>("DIR") { Description = "The silo's WAL directory (DataDirectory/wal)." };
        var verify = new Command("verify", "Check every record and snapshot checksum; report the first corruption.") { directory };
        verify.SetAction(parse => Verify(parse.GetValue(directory)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return verify;
    }

    internal static int Inspect(DirectoryInfo directory, TextWriter output, TextWriter error)
    {
        if (!directory.Exists) return Missing(directory, error);
        WalInspection inspection;
        try
        {
            inspection = WalInspector.Inspect(directory.FullName);
        }
        catch (WalCorruptionException ex)
        {
            error.WriteLine($"corrupt: {ex.File} at offset {ex.Offset}: {ex.Reason}");
            return ExitCodes.Failed;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            error.WriteLine($"error: {ex.Message}");
            return ExitCodes.BadInput;
        }

        output.WriteLine($"WAL {inspection.Directory}");
        output.WriteLine($"segments: {inspection.Segments.Count}");
        foreach (var segment in inspection.Segments)
        {
            string lsns = segment.FirstLsn is null ? "-" : $"{segment.FirstLsn}..{segment.LastLsn}";
            output.WriteLine($"  {segment.FileName}  {segment.Bytes,12:N0} bytes  {segment.Records,8:N0} records  lsn {lsns}");
        }
        if (inspection.TornTail is { } torn) output.WriteLine($"torn tail: {torn.File} at offset {torn.Offset} (cut off on next open)");
        output.WriteLine($"groups: {inspection.Groups.Count}");
        foreach (var group in inspection.Groups)
        {
            string slots = group.MinSlot is null ? "-" : $"{group.MinSlot}..{group.MaxSlot}";
            string snapshot = group.SnapshotSlot?.ToString(CultureInfo.InvariantCulture) ?? "-";
            string kinds = string.Join(", ", group.RecordsByKind.OrderBy(k => k.Key).Select(k => $"{k.Key}={k.Value}"));
            output.WriteLine(
                $"  {group.GroupId}: {group.Records} records ({group.RetainedRecords} retained; {kinds}), slots {slots}, " +
                $"max ballot {group.MaxBallotRound}.{group.MaxBallotReplica}, {group.Bytes:N0} bytes, snapshot {snapshot}, " +
                $"segments {string.Join(" ", group.Segments)}");
        }
        return ExitCodes.Ok;
    }

    internal static int Verify(DirectoryInfo directory, TextWriter output, TextWriter error)
    {
        if (!directory.Exists) return Missing(directory, error);
        WalVerification result;
        try
        {
            result = WalInspector.Verify(directory.FullName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            error.WriteLine($"error: {ex.Message}");
            return ExitCodes.BadInput;
        }
        if (!result.IsValid)
        {
            error.WriteLine($"corrupt: {result.Corruption!.Value.File} at offset {result.Corruption.Value.Offset}: {result.Error}");
            return ExitCodes.Failed;
        }
        string tornNote = result.TornTail is { } t ? $"; torn tail at {t.File}:{t.Offset} (normal after a crash)" : "";
        output.WriteLine($"ok: {result.Segments} segments, {result.Records} records{tornNote}");
        return ExitCodes.Ok;
    }

    private static int Missing(DirectoryInfo directory, TextWriter error)
    {
        error.WriteLine($"error: WAL directory '{directory.FullName}' does not exist");
        return ExitCodes.BadInput;
    }
}
