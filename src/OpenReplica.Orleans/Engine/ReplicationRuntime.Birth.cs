using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The runtime's side of group birth (docs/architecture.md, "Birth of a group"): the silo's claim table, its
/// answers to peers' claims, one birth at a time per group on this silo, and the restart rule for forgotten claims.
/// </summary>
internal sealed partial class ReplicationRuntime : IBirthAcceptor
{
    private BirthClaims? _birthClaims;
    private readonly ConcurrentDictionary<string, Lazy<Task<GroupReplica>>> _births = new();

    private BirthClaims Claims => _birthClaims ?? throw new InvalidOperationException("replicated grains are not started on this silo yet");

    /// <summary>Birth claims this silo holds now (diagnostics, tests).</summary>
    internal int BirthClaimCount => _birthClaims?.Count ?? 0;

    /// <summary>
    /// The claim table. Claims live in memory: after a graceful stop the silo takes back the claims it saved
    /// (<see cref="BirthClaimsFile"/>); back under the same identity after a crash it may have granted claims it no
    /// longer remembers, so it grants none until they would surely have expired.
    /// </summary>
    private BirthClaims OpenBirthClaims()
    {
        long lifetimeMs = (long)options.Value.BirthClaimLifetime.TotalMilliseconds;
        if (options.Value.DataDirectory is not { } dir) return new BirthClaims(_engineClock, lifetimeMs);
        string path = Path.Combine(dir, BirthClaimsFile.FileName);
        var saved = File.Exists(path) ? BirthClaimsFile.Decode(File.ReadAllBytes(path)) : null;
        long grantsFrom = long.MinValue;
        if (identity.Restored && saved is null)
        {
            grantsFrom = _engineClock.Now + lifetimeMs;
            LogClaimsForgotten(_logger, options.Value.BirthClaimLifetime);
        }
        var claims = new BirthClaims(_engineClock, lifetimeMs, grantsFrom);
        foreach (var (groupId, claim, remainingMs) in saved ?? []) claims.Restore(groupId, claim, remainingMs);
        OpenReplica.Storage.DurableFile.WriteAtomically(path, BirthClaimsFile.Granting); // before any grant: a crash from here on is not clean
        return claims;
    }

    private void CloseBirthClaims()
    {
        if (_birthClaims is not { } claims) return;
        claims.Close();
        if (options.Value.DataDirectory is not { } dir) return;
        try
        {
            OpenReplica.Storage.DurableFile.WriteAtomically(Path.Combine(dir, BirthClaimsFile.FileName), BirthClaimsFile.Encode(claims.Live()));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The file still says "granting": the restart treats this stop as a crash and waits out the lifetime.
            LogClaimsNotSaved(_logger, e);
        }
    }

    /// <summary>
    /// Starts this silo's replica of a group it holds nothing of: the birth rule decides the first configuration
    /// (one birth per group at a time on this silo; concurrent callers share it), which is saved before the replica
    /// is marked held under the claim table's lock.
    /// </summary>
    private Task<GroupReplica> BornAsync(string groupId, GrainId grainId, int replicas, CancellationToken cancellationToken)
    {
        var pending = _births.GetOrAdd(groupId, id => new Lazy<Task<GroupReplica>>(async () =>
        {
            try
            {
                var initial = await birth.InitialConfigAsync(groupId, grainId, replicas, this,
                    history => Store.SaveInitialConfigAsync(groupId, history, _forgotten.NoteOf(groupId)).AsTask(), cancellationToken, () => _forgotten.NoteOf(groupId)?.LatestFromSlot);
                SettleBirth(groupId);
                var group = GetOrCreate(groupId, initial.Latest);
                _forgotten.Held(groupId);
                return group;
            }
            finally
            {
                _births.TryRemove(groupId, out _);
            }
        }));
        return pending.Value.WaitAsync(cancellationToken);
    }

    /// <summary>Answers a birth claim: the replica this silo holds, another live claim, or the claim recorded (first wins).</summary>
    public async Task<BirthAnswer> AnswerBirthClaimAsync(string groupId, BirthClaim claim)
    {
        long version = roster.Version;
        long[]? newer = version > claim.RosterVersion && roster.Current is { } current ? [.. current.Members] : null;
        if (groupId == RosterGroup.GroupId || !TryParseGroupId(groupId, out _, out _))
        {
            return new BirthAnswer(BirthAnswerKind.Refused, null, 0, version, newer);
        }
        var kind = Claims.TryClaim(groupId, claim, () => Holds(groupId), out var other);
        switch (kind)
        {
            case BirthAnswerKind.Claimed:
                return new BirthAnswer(kind, other!.Config, other.Proposer, version, newer);
            case BirthAnswerKind.Existing:
                return await StatusOfAsync(groupId) is { } status
                    ? new BirthAnswer(kind, status.Latest, 0, version, newer, status.LatestFromSlot, status.Epochs)
                    : new BirthAnswer(BirthAnswerKind.Refused, null, 0, version, newer); // held but failed or forgotten meanwhile
            default:
                return new BirthAnswer(kind, null, 0, version, newer);
        }
    }

    public void ReleaseBirthClaim(string groupId, long proposer, long attempt) => Claims.Release(groupId, proposer, attempt);

    /// <summary>Marks a replica created from a peer's configuration as held, under the claim table's lock.</summary>
    private void SettleBirth(string groupId) => Claims.Settle(groupId, () => _held.Add(groupId));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not save the birth claims at stop; after the restart this silo grants none for the claim lifetime")]
    private static partial void LogClaimsNotSaved(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "This silo restarted with its identity after a crash and may have forgotten birth claims it granted: it grants none for {Lifetime}")]
    private static partial void LogClaimsForgotten(ILogger logger, TimeSpan lifetime);
}
