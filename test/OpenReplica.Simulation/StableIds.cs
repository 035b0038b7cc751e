using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>Client ids that are the same in every run of a seed (both simulators' clients).</summary>
internal static class StableIds
{
    public static Guid Guid(ulong stream)
    {
        var r = new DeterministicRandom(stream);
        Span<byte> bytes = stackalloc byte[16];
        BitConverter.TryWriteBytes(bytes, r.NextULong());
        BitConverter.TryWriteBytes(bytes[8..], r.NextULong());
        return new System.Guid(bytes);
    }
}
