using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class IdentityTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "openreplica-identity-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void An_identity_is_created_once_and_is_stable_across_reopen()
    {
        ReplicaIdentity first = ReplicaIdentity.LoadOrCreate(_root);
        ReplicaIdentity second = ReplicaIdentity.LoadOrCreate(_root);

        Assert.True(first.CreatedNow);
        Assert.False(second.CreatedNow);
        Assert.NotEqual(Guid.Empty, first.Id);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal([ReplicaIdentity.FileName], Directory.GetFiles(_root).Select(Path.GetFileName));
    }

    [Fact]
    public void An_empty_directory_gets_a_new_identity()
    {
        ReplicaIdentity original = ReplicaIdentity.LoadOrCreate(Path.Combine(_root, "a"));
        ReplicaIdentity wiped = ReplicaIdentity.LoadOrCreate(Path.Combine(_root, "b"));
        Directory.Delete(Path.Combine(_root, "a"), recursive: true);
        ReplicaIdentity recreated = ReplicaIdentity.LoadOrCreate(Path.Combine(_root, "a"));

        Assert.True(wiped.CreatedNow);
        Assert.True(recreated.CreatedNow);
        Assert.Equal(3, new[] { original.Id, wiped.Id, recreated.Id }.Distinct().Count());
    }

    [Fact]
    public void A_directory_of_the_previous_release_keeps_its_identity()
    {
        Directory.CreateDirectory(_root);
        Guid old = Guid.NewGuid();
        File.WriteAllText(Path.Combine(_root, ReplicaIdentity.LegacyFileName), old.ToString("D"));

        ReplicaIdentity upgraded = ReplicaIdentity.LoadOrCreate(_root);
        File.Delete(Path.Combine(_root, ReplicaIdentity.LegacyFileName));
        ReplicaIdentity reopened = ReplicaIdentity.LoadOrCreate(_root);

        Assert.False(upgraded.CreatedNow);
        Assert.Equal(old, upgraded.Id);
        Assert.Equal(old, reopened.Id);
    }

    [Fact]
    public void A_damaged_identity_file_is_an_error_not_a_new_identity()
    {
        ReplicaIdentity.LoadOrCreate(_root);
        File.WriteAllText(Path.Combine(_root, ReplicaIdentity.FileName), "openreplica-replica-id-v1\nnot-a-guid\n");
        var ex = Assert.Throws<InvalidDataException>(() => ReplicaIdentity.LoadOrCreate(_root));
        Assert.Contains(ReplicaIdentity.FileName, ex.Message);
    }

    [Fact]
    public void A_crash_while_creating_leaves_no_identity_or_the_whole_one()
    {
        for (int crashAt = 1; crashAt <= 3; crashAt++)
        {
            var fs = new FaultyFileSystem { CrashAfterOperations = crashAt, TornWriteRandom = new Random(crashAt) };
            Guid? created = null;
            try
            {
                created = ReplicaIdentity.LoadOrCreate(FaultyFileSystem.Dir, fs).Id;
            }
            catch (IOException)
            {
            }

            fs.Restart();
            ReplicaIdentity after = ReplicaIdentity.LoadOrCreate(FaultyFileSystem.Dir, fs);
            Assert.True(created is null ? after.CreatedNow : after.Id == created);
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
