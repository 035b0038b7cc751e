namespace OpenReplica.Cli;

/// <summary>Process exit codes shared by all commands.</summary>
public static class ExitCodes
{
    /// <summary>Success (check: every file is linearizable).</summary>
    public const int Ok = 0;

    /// <summary>A check failed (check: some file is not linearizable; wal verify: corruption; status: the cluster is not healthy).</summary>
    public const int Failed = 1;

    /// <summary>Bad input: unknown option, missing file, unparseable line.</summary>
    public const int BadInput = 2;

    /// <summary>Undecided (check: some file ran out of its time budget).</summary>
    public const int Unknown = 3;

    /// <summary>The cluster could not be reached (status: no gateway answered).</summary>
    public const int Unreachable = 5;

    /// <summary>Unexpected internal error (a bug): reported without a stack trace.</summary>
    public const int InternalError = 4;
}
