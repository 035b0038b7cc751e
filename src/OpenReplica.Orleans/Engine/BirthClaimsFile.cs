using System.IO.Hashing;
using System.Text;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The birth claims a silo held when it stopped gracefully, in its data directory, so that after the restart it
/// keeps honouring them instead of refusing every claim for a lifetime (<see cref="BirthClaims"/>). Before it grants
/// anything the silo overwrites the file with <see cref="Granting"/>: a crash from then on leaves no claim list, and
/// the restarted silo grants nothing until the claims it may have forgotten would have expired.
/// Format: "BC1\n", the claim count, each claim (group id, proposer, attempt, roster version, remaining ms, members),
/// then a CRC-32 of everything before it. Anything else (a crash, a torn or foreign file) reads as "not clean".
/// </summary>
internal static class BirthClaimsFile
{
    public const string FileName = "birth-claims.state";

    /// <summary>What the file holds while the silo runs (it may be granting claims).</summary>
    public static readonly byte[] Granting = Encoding.ASCII.GetBytes("granting");

    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("BC1\n");

    public static byte[] Encode(IReadOnlyList<(string GroupId, BirthClaim Claim, long RemainingMs)> claims)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(claims.Count);
            foreach (var (groupId, claim, remainingMs) in claims)
            {
                writer.Write(groupId);
                writer.Write(claim.Proposer);
                writer.Write(claim.Attempt);
                writer.Write(claim.RosterVersion);
                writer.Write(remainingMs);
                writer.Write(claim.Config.Length);
                foreach (long member in claim.Config) writer.Write(member);
            }
        }
        buffer.Write(BitConverter.GetBytes(Checksum(buffer.GetBuffer().AsSpan(0, (int)buffer.Length))));
        return buffer.ToArray();
    }

    /// <summary>The claims a graceful stop left, or null when the silo did not stop gracefully (or the file is not ours).</summary>
    public static IReadOnlyList<(string GroupId, BirthClaim Claim, long RemainingMs)>? Decode(ReadOnlySpan<byte> content)
    {
        if (content.Length < Magic.Length + 8 || !content[..Magic.Length].SequenceEqual(Magic)) return null;
        var body = content[..^4];
        if (BitConverter.ToUInt32(content[^4..]) != Checksum(body)) return null;
        try
        {
            using var reader = new BinaryReader(new MemoryStream(body[Magic.Length..].ToArray()), Encoding.UTF8);
            int count = reader.ReadInt32();
            if (count < 0 || count > BirthClaims.Capacity) return null;
            var claims = new List<(string, BirthClaim, long)>(count);
            for (int i = 0; i < count; i++)
            {
                string groupId = reader.ReadString();
                long proposer = reader.ReadInt64(), attempt = reader.ReadInt64(), version = reader.ReadInt64(), remainingMs = reader.ReadInt64();
                int members = reader.ReadInt32();
                if (members is < 1 or > 1024) return null;
                var config = new long[members];
                for (int m = 0; m < members; m++) config[m] = reader.ReadInt64();
                claims.Add((groupId, new BirthClaim(config, proposer, attempt, version), remainingMs));
            }
            return reader.BaseStream.Position == reader.BaseStream.Length ? claims : null;
        }
        catch (EndOfStreamException)
        {
            return null;
        }
    }

    private static uint Checksum(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(data);
}
