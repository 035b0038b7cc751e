namespace OpenReplica.Consensus;

public enum LogValueKind : byte
{
    /// <summary>Fills a slot that no one proposed a value for, so later slots can be applied.</summary>
    Noop = 0,
    /// <summary>A batch of client commands, applied in order.</summary>
    Commands = 1,
    /// <summary>A new configuration, in force from this slot + the window.</summary>
    Config = 2,
}

/// <summary>The value chosen at one slot of the log.</summary>
public sealed class LogValue
{
    public static readonly LogValue Noop = new(LogValueKind.Noop, [], null);

    private LogValue(LogValueKind kind, IReadOnlyList<Command> commands, ClusterConfig? config)
    {
        Kind = kind;
        Commands = commands;
        Config = config;
    }

    public LogValueKind Kind { get; }

    public IReadOnlyList<Command> Commands { get; }

    public ClusterConfig? Config { get; }

    public static LogValue Batch(IReadOnlyList<Command> commands)
    {
        Invariant.Assert(commands.Count > 0);
        return new LogValue(LogValueKind.Commands, commands, null);
    }

    public static LogValue ConfigChange(ClusterConfig config) => new(LogValueKind.Config, [], config);

    /// <summary>Approximate encoded size, used to bound batches.</summary>
    public int SizeBytes => Kind == LogValueKind.Commands ? Commands.Sum(c => c.Payload.Length + 40) : 16;

    public override string ToString() => Kind switch
    {
        LogValueKind.Noop => "noop",
        LogValueKind.Config => $"config{Config}",
        _ => "[" + string.Join(" ", Commands) + "]",
    };
}

/// <summary>A value accepted at a slot under a ballot. Once <see cref="Chosen"/>, the value never changes.</summary>
public sealed record LogEntry(long Slot, Ballot Ballot, LogValue Value, bool Chosen)
{
    public override string ToString() => $"{Slot}@{Ballot}{(Chosen ? "!" : "")}:{Value}";
}
