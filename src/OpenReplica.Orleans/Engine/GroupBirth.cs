using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenReplica.Consensus;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Decides the first configuration of a group this silo holds no replica of. Every replica of a group must agree
/// on the configuration its log starts from, and a roster that grows and shrinks leaves no fixed list to compute
/// it from (the genesis silos may all be gone after a rolling deployment). So a silo never invents a group that
/// may exist: it sends a birth claim (its proposed configuration, from its roster) to every live silo; each silo
/// answers with the replica it holds, or another proposer's claim it holds, or records this claim. An existing
/// replica's configuration is adopted; the proposal goes ahead only when a majority of the roster recorded it and
/// no silo named another claim, so two concurrent births of one group cannot start two different logs
/// (<see cref="BirthDecision"/>, docs/architecture.md "Birth of a group"). The first configuration is then persisted
/// with the replica (a slot-0 snapshot), so a restart needs no roster at all.
/// </summary>
internal sealed partial class GroupBirth(ReplicaRoster roster, ReplicaHostClient hosts, IOptions<ReplicatedGrainsOptions> options, ILogger<GroupBirth> logger)
{
    /// <summary>Rounds before a birth gives up with a retryable <see cref="ReplicaSetUnavailableException"/>.</summary>
    public const int MaxRounds = 12;

    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(1);

    private long _attempts = Random.Shared.NextInt64(1, long.MaxValue / 2);

    /// <summary>
    /// Test seam (fault injection): the roster and version a birth computes its first proposal from, in place of the
    /// silo's current one — a silo that has not learned the newest roster yet. Later rounds use the real roster.
    /// </summary>
    internal Func<(ClusterConfig Roster, long Version)?>? StaleRosterForTests { get; set; }

    /// <summary>
    /// The configurations a new local replica of the grain's group starts from (see the class comment): a new group's
    /// first configuration from slot 1, or the history of the existing replica it adopts, saved by
    /// <paramref name="save"/> before this returns. <paramref name="local"/> answers and releases this silo's own
    /// claim (the silo is one of the silos asked).
    /// </summary>
    public async Task<ConfigHistory> InitialConfigAsync(string groupId, GrainId grainId, int replicas, IBirthAcceptor local,
        Func<ConfigHistory, Task> save, CancellationToken cancellationToken, Func<long?>? forgottenFromSlot = null)
    {
        await roster.ResolveAsync(cancellationToken);
        var roundBudget = options.Value.BirthClaimLifetime / 3;
        BirthClaim? claim = null; // this birth's live claim (granted by some silos), if any
        bool watching = false;    // gave way: only queries until no other claim is left
        IReadOnlyList<long> asked = [];
        string reason = "no round ran";
        var stale = StaleRosterForTests?.Invoke();
        try
        {
            for (int round = 1; round <= MaxRounds; round++)
            {
                var (current, version) = stale ?? (roster.Current!, roster.Version);
                stale = null;
                var target = roster.Pick(grainId, replicas, current);
                if (claim is not null && (watching || claim.RosterVersion != version || !claim.Config.AsSpan().SequenceEqual([.. target.Members])))
                {
                    await ReleaseAsync(groupId, claim, asked, local);
                    claim = null;
                }
                var ask = watching
                    ? new BirthClaim([.. target.Members], roster.LocalReplicaId, 0, version, Query: true)
                    : claim ??= new BirthClaim([.. target.Members], roster.LocalReplicaId, Interlocked.Increment(ref _attempts), version);
                asked = [.. current.Members.Union(roster.LiveReplicas()).Append(roster.LocalReplicaId).Distinct().Order()];
                long started = HostClock.Now;
                var replies = await AskAsync(groupId, ask, asked, local, roundBudget, cancellationToken);
                var verdict = HostClock.Now - started > (long)roundBudget.TotalMilliseconds
                    ? new BirthVerdict(BirthStep.Retry, null, Release: true, null, $"the round took longer than {roundBudget.TotalMilliseconds:0} ms")
                    : BirthDecision.Decide(ask, current, replicas, replies, forgottenFromSlot?.Invoke());
                switch (verdict.Step)
                {
                    case BirthStep.Proceed:
                        LogNew(logger, groupId, verdict.Config!.ToString(), verdict.Reason);
                        var first = ConfigHistory.Start(verdict.Config!);
                        try
                        {
                            await save(first);
                        }
                        catch (Exception e)
                        {
                            // Nothing of the group reached the disk (the log cut the failed batch off) and no replica
                            // started: the claim is withdrawn below, as a birth that did not proceed withdraws it. Kept,
                            // it held every other silo's birth of the grain off for its lifetime (30 s by default) after
                            // a full disk had room again. Anything else may have left the first configuration on disk.
                            if (!LogFailure.NothingWritten(e)) claim = null;
                            throw;
                        }
                        claim = null; // its grants stay until they expire or each silo holds a replica
                        return first;
                    case BirthStep.Adopt:
                        LogFound(logger, groupId, verdict.Config!.ToString(), verdict.Reason);
                        await save(verdict.Adopted!);
                        return verdict.Adopted!;
                    case BirthStep.Claim:
                        watching = false;
                        continue; // the way is clear: claim at once
                }
                reason = verdict.Reason;
                LogRetry(logger, groupId, round, reason);
                if (verdict.Release && claim is not null)
                {
                    await ReleaseAsync(groupId, claim, asked, local);
                    claim = null;
                }
                watching |= verdict.Watch;
                if (verdict.NewerRoster is { } newer) roster.SetCurrent(newer.Roster, newer.Version);
                await Task.Delay(Pause(round), cancellationToken);
            }
        }
        finally
        {
            // A birth that did not proceed withdraws its claims, so another can (a crashed one's claims expire).
            if (claim is not null) _ = ReleaseAsync(groupId, claim, asked, local);
        }
        throw new ReplicaSetUnavailableException($"Cannot start grain {grainId} after {MaxRounds} rounds: {reason}.");
    }

    /// <summary>What the peer whose message names a group this silo does not hold knows of it (null: it holds none, or did not answer).</summary>
    public async Task<GroupStatus?> StatusFromPeerAsync(SiloAddress from, string groupId)
    {
        try
        {
            return await hosts.For(from).GetGroupStatusAsync(groupId);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogUnanswered(logger, groupId, from, e.Message);
            return null;
        }
    }

    private async Task<IReadOnlyList<BirthReply>> AskAsync(string groupId, BirthClaim claim, IReadOnlyList<long> asked,
        IBirthAcceptor local, TimeSpan budget, CancellationToken cancellationToken)
    {
        var replies = await Task.WhenAll(asked.Select(async member =>
        {
            try
            {
                Task<BirthAnswer> answer;
                if (member == roster.LocalReplicaId) answer = local.AnswerBirthClaimAsync(groupId, claim);
                else if (roster.SiloOf(member) is { } silo) answer = hosts.For(silo).ClaimBirthAsync(groupId, claim);
                else return new BirthReply(member, null);
                return new BirthReply(member, await answer.WaitAsync(budget, cancellationToken));
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogUnansweredMember(logger, groupId, member, e.Message);
                return new BirthReply(member, null);
            }
        }));
        return replies;
    }

    private async Task ReleaseAsync(string groupId, BirthClaim claim, IReadOnlyList<long> asked, IBirthAcceptor local)
    {
        await Task.WhenAll(asked.Select(async member =>
        {
            try
            {
                if (member == roster.LocalReplicaId) local.ReleaseBirthClaim(groupId, claim.Proposer, claim.Attempt);
                else if (roster.SiloOf(member) is { } silo) await hosts.For(silo).ReleaseBirthAsync(groupId, claim.Proposer, claim.Attempt);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The claim expires by itself.
                LogUnansweredMember(logger, groupId, member, e.Message);
            }
        }));
    }

    // Exponential with jitter, so two births that keep meeting stop meeting; bounded by MaxRounds.
    private static TimeSpan Pause(int round)
    {
        double ms = Math.Min(LongestPause.TotalMilliseconds, FirstPause.TotalMilliseconds * Math.Pow(2, round - 1));
        return TimeSpan.FromMilliseconds(ms * (0.5 + Random.Shared.NextDouble()));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId} exists: starting from {Config} ({Reason})")]
    private static partial void LogFound(ILogger logger, string groupId, string config, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId} is new: it starts on {Config} ({Reason})")]
    private static partial void LogNew(ILogger logger, string groupId, string config, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Birth of group {GroupId}, round {Round} undecided: {Reason}")]
    private static partial void LogRetry(ILogger logger, string groupId, int round, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Silo {Silo} did not say whether it holds group {GroupId}: {Reason}")]
    private static partial void LogUnanswered(ILogger logger, string groupId, SiloAddress silo, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Replica {Member} did not answer the birth claim for group {GroupId}: {Reason}")]
    private static partial void LogUnansweredMember(ILogger logger, string groupId, long member, string reason);
}
