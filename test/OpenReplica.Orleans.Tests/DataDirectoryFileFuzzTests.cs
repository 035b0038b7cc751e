using System.Text;
using OpenReplica.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Hostile bytes for the files a silo reads from its data directory before it joins (the replica roster and the
/// cluster id; the replica identity file is fuzzed in the storage tests): seeded mutations of valid files must
/// either decode to a well-formed value or be refused with an <see cref="InvalidDataException"/> naming the file —
/// never another exception, never a roster with duplicate or empty members. A failure names seed and iteration.
/// </summary>
public sealed class DataDirectoryFileFuzzTests
{
    private const int Iterations = 4_000;
    private const string Path = "/data/silo-1/file";

    public static TheoryData<int> Seeds => new(31, 32, 33);

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Mutated_roster_files_decode_to_distinct_members_or_are_refused_naming_the_file(int seed)
    {
        var random = new Random(seed);
        var corpus = Enumerable.Range(1, 4)
            .Select(n => RosterFile.Encode([.. Enumerable.Range(0, n).Select(_ => new Guid(Bytes(random, 16)))]))
            .Append(Encoding.UTF8.GetBytes(Guid.NewGuid().ToString("D") + "\r\n")) // written with the platform's line ending before
            .ToList();
        var mutator = new ByteMutator(seed);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] bytes = mutator.Mutate(corpus[i % corpus.Count], corpus);
            try
            {
                var members = RosterFile.Parse(Path, bytes);
                Assert.True(members.Count > 0 && members.Distinct().Count() == members.Count && !members.Contains(Guid.Empty),
                    $"seed {seed} iteration {i}: decoded a malformed roster [{string.Join(", ", members)}]");
            }
            catch (InvalidDataException e)
            {
                Assert.True(e.Message.Contains(Path, StringComparison.Ordinal), $"seed {seed} iteration {i}: the error does not name the file: {e.Message}");
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"seed {seed} iteration {i}: {e.GetType().Name} instead of InvalidDataException for {Convert.ToHexString(bytes)}\n{e}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Mutated_cluster_id_files_decode_to_a_non_empty_id_or_are_refused_naming_the_file(int seed)
    {
        var corpus = new[] { "payments-prod", "loadtest-persisted-0f3e", "x" }
            .Select(id => Encoding.UTF8.GetBytes($"openreplica-cluster-id-v1\n{id}\n")).ToList();
        var mutator = new ByteMutator(seed);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] bytes = mutator.Mutate(corpus[i % corpus.Count], corpus);
            try
            {
                string id = ClusterIdFile.Parse(Path, bytes);
                Assert.True(id.Length > 0 && !id.Contains('\n'), $"seed {seed} iteration {i}: decoded a malformed cluster id '{id}'");
            }
            catch (InvalidDataException e)
            {
                Assert.True(e.Message.Contains(Path, StringComparison.Ordinal), $"seed {seed} iteration {i}: the error does not name the file: {e.Message}");
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"seed {seed} iteration {i}: {e.GetType().Name} instead of InvalidDataException for {Convert.ToHexString(bytes)}\n{e}");
            }
        }
    }

    private static byte[] Bytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
