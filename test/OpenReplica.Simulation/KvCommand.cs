using System.Text;
using OpenReplica.Checker;

namespace OpenReplica.Simulation;

/// <summary>Encodes the key-value operations clients send through the log as command payloads.</summary>
public static class KvCommand
{
    private const char Sep = '\u0001';

    public static byte[] Encode(KvInput input) => Encoding.UTF8.GetBytes(input.Op switch
    {
        KvOp.Get => $"G{Sep}{input.Key}",
        KvOp.Put => $"P{Sep}{input.Key}{Sep}{input.Value}",
        _ => $"C{Sep}{input.Key}{Sep}{input.Expected ?? ""}{Sep}{(input.Expected is null ? "0" : "1")}{Sep}{input.Value}",
    });

    public static KvInput Decode(byte[] payload)
    {
        var parts = Encoding.UTF8.GetString(payload).Split(Sep);
        return parts[0] switch
        {
            "G" => new KvInput(KvOp.Get, parts[1]),
            "P" => new KvInput(KvOp.Put, parts[1], parts[2]),
            "C" => new KvInput(KvOp.Cas, parts[1], parts[4], parts[3] == "1" ? parts[2] : null),
            _ => throw new FormatException($"unknown command '{parts[0]}'"),
        };
    }
}
