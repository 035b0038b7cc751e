namespace OpenReplica.Consensus;

/// <summary>What a log slot holds.</summary>
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
    /// <summary>The value that fills a slot nobody proposed anything for.</summary>
    public static readonly LogValue Noop = new(LogValueKind.Noop, [], null);

    private LogValue(LogValueKind kind, IReadOnlyList<Command> commands, ClusterConfig? config)
    {
        Kind = kind;
        Commands = commands;
        Config = config;
    }

    /// <summary>What the slot holds.</summary>
    public LogValueKind Kind { get; }

    /// <summary>The commands of a <see cref="LogValueKind.Commands"/> slot, in the order they are applied; empty otherwise.</summary>
    public IReadOnlyList<Command> Commands { get; }

    /// <summary>The new configuration of a <see cref="LogValueKind.Config"/> slot; null otherwise.</summary>
    public ClusterConfig? Config { get; }

    /// <summary>A slot of client commands (at least one), applied in order.</summary>
    public static LogValue Batch(IReadOnlyList<Command> commands)
    {
        Invariant.Assert(commands.Count > 0);
        return new LogValue(LogValueKind.Commands, commands, null);
    }

    /// <summary>A slot that changes the configuration (in force from its slot + the window).</summary>
    public static LogValue ConfigChange(ClusterConfig config) => new(LogValueKind.Config, [], config);

    /// <summary>Approximate encoded size, used to bound batches.</summary>
    public int SizeBytes
    {
        get
        {
            if (Kind != LogValueKind.Commands) return 16;
            // An index loop: LINQ's Sum boxed an enumerator each time (every accept sent or retransmitted asks).
            int size = 0;
            for (int i = 0; i < Commands.Count; i++) size += Commands[i].Payload.Length + 40;
            return size;
        }
    }

    /// <summary>A short form for traces.</summary>
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
    /// <summary>A short form for traces: <c>slot@ballot</c>, <c>!</c> when chosen, and the value.</summary>
    public override string ToString() => $"{Slot}@{Ballot}{(Chosen ? "!" : "")}:{Value}";
}
