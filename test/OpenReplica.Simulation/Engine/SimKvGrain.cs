using System.IO.Hashing;
using System.Reflection;
using System.Text;
using OpenReplica.Checker;
using OpenReplica.Orleans;
using Orleans.Runtime;

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// The grain the simulator's activations run: a key-value map with compare-and-set, behind the same interface a
/// <c>ReplicatedGrain&lt;TState&gt;</c> gives the engine's <see cref="OpenReplica.Orleans.Replication.GrainSession"/>.
/// Commands are <see cref="KvCommand"/> payloads; results are strings (so the session's reply table and snapshots
/// serialize them with Orleans' serializer as they would a grain's results).
/// </summary>
internal sealed class SimKvGrain(Action<long, CallId, byte[]> onApplied) : IReplicatedStateMachine
{
    private readonly SortedDictionary<string, string> _data = new(StringComparer.Ordinal);

    public string? Read(string key) => _data.GetValueOrDefault(key);

    /// <summary>The simulated grain declares no effects: its outbox stays empty.</summary>
    public EffectOutbox Outbox { get; } = new();

    public Task RunEffectAsync(long sequence, int attempt, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("the simulated grain declares no effects");

    public Task<CommandOutcome> ApplyAsync(byte[] invokable, CommandPosition position)
    {
        // Live or replayed, every activation must run the same command at the same log position.
        onApplied(position.Slot, position.Call, invokable);
        return Task.FromResult(new CommandOutcome(EncodeOutput(Apply(KvCommand.Decode(invokable))), null));
    }

    public Task ApplyReplayedAsync(byte[] invokable, CommandPosition position)
    {
        Apply(KvCommand.Decode(invokable));
        return Task.CompletedTask;
    }

    public byte[] SaveState() => Encoding.UTF8.GetBytes(string.Join('\u0002', _data.Select(p => p.Key + '\u0001' + p.Value)));

    public void LoadState(byte[] state)
    {
        _data.Clear();
        if (state.Length == 0) return;
        foreach (string pair in Encoding.UTF8.GetString(state).Split('\u0002'))
        {
            int sep = pair.IndexOf('\u0001');
            _data[pair[..sep]] = pair[(sep + 1)..];
        }
    }

    public ulong DigestState() => XxHash64.HashToUInt64(SaveState());

    private KvOutput Apply(KvInput input)
    {
        string? current = _data.GetValueOrDefault(input.Key);
        switch (input.Op)
        {
            case KvOp.Get:
                return new KvOutput(current);
            case KvOp.Put:
                _data[input.Key] = input.Value!;
                return new KvOutput(null);
            default:
                if (current != input.Expected) return new KvOutput(current, Ok: false);
                _data[input.Key] = input.Value!;
                return new KvOutput(null);
        }
    }

    public static string EncodeOutput(KvOutput output) => (output.Ok ? "1" : "0") + (output.Value is null ? "-" : "=" + output.Value);

    public static KvOutput DecodeOutput(object? result)
    {
        string s = result as string ?? throw new InvalidDataException($"a KV grain result must be a string; got {result}");
        return new KvOutput(s[1] == '-' ? null : s[2..], s[0] == '1');
    }
}

/// <summary>
/// The few members of an Orleans grain context a grain session uses (its id, the grain instance, Deactivate),
/// as a proxy: anything else the session would call fails loudly.
/// </summary>
public class SimGrainContext : DispatchProxy
{
    private GrainId _id;
    private object? _instance;
    private Action<string>? _deactivate;

    internal static IGrainContext Create(GrainId id, object instance, Action<string> deactivate)
    {
        var context = Create<IGrainContext, SimGrainContext>();
        var self = (SimGrainContext)(object)context;
        self._id = id;
        self._instance = instance;
        self._deactivate = deactivate;
        return context;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
    {
        "get_GrainId" => _id,
        "get_GrainInstance" => _instance,
        "Deactivate" => DoDeactivate(args),
        _ => throw new NotSupportedException($"the simulated grain context has no {targetMethod?.Name}"),
    };

    private object? DoDeactivate(object?[]? args)
    {
        _deactivate!(args?.FirstOrDefault()?.ToString() ?? "deactivated");
        return null;
    }
}
