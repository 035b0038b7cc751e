using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Concurrent births of one group over many interleavings: silos with the real claim table (<see cref="BirthClaims"/>),
/// proposers with the real decision rule (<see cref="BirthDecision"/>), and a seeded scheduler that delivers every ask,
/// answer, release, retry and replica creation in a random order (and, where the scenario allows, loses answers).
/// After each run: no two proposers went ahead with different first configurations, and every replica created
/// (by a birth, by adoption, or by a member learning the group from a peer) has the same one. Without claims the
/// same scheduler finds two first configurations, so the check can fail.
/// </summary>
public sealed class BirthProtocolTests
{
    private const string Group = "3|account/raced";
    private const int Seeds = 3000;

    [Fact]
    public void Three_births_with_one_roster_and_different_proposals_agree_on_one_configuration()
    {
        for (int seed = 0; seed < Seeds; seed++)
        {
            var run = new Run(seed, SameRoster(), [(1, [1, 2, 3]), (2, [2, 3, 4]), (3, [3, 4, 5])], answerLossRate: 0);
            run.Execute();
            run.AssertOneConfiguration();
            Assert.True(run.Proceeded.Count == 1, $"seed {seed}: {run.Proceeded.Count} births went ahead (no faults: exactly one must)");
            Assert.True(run.Finished, $"seed {seed}: a birth gave up without faults: {run.Trace}");
        }
    }

    [Fact]
    public void Births_that_lose_answers_never_start_two_configurations()
    {
        for (int seed = 0; seed < Seeds; seed++)
        {
            var run = new Run(seed, SameRoster(), [(1, [1, 2, 3]), (2, [2, 3, 4]), (5, [3, 4, 5])], answerLossRate: 0.25);
            run.Execute();
            run.AssertOneConfiguration();
        }
    }

    [Fact]
    public void Births_across_a_roster_replacement_agree_on_one_configuration()
    {
        // Roster version 1 is {1,2,3}; version 2 replaced 3 by 4. Silo 3 (leaving) and, in half the runs, silo 2 have
        // not learned version 2 yet. Silo 3 proposes from the old roster, silo 4 from the new one, silo 1 too.
        for (int seed = 0; seed < Seeds; seed++)
        {
            var old = (Roster: new ClusterConfig([1, 2, 3]), Version: 1L);
            var next = (Roster: new ClusterConfig([1, 2, 4]), Version: 2L);
            var silos = new Dictionary<long, (ClusterConfig, long)> { [1] = next, [2] = seed % 2 == 0 ? old : next, [3] = old, [4] = next };
            var run = new Run(seed, silos, [(3, null), (4, null), (1, null)], answerLossRate: 0);
            run.Execute();
            run.AssertOneConfiguration();
            Assert.True(run.Proceeded.Count == 1, $"seed {seed}: {run.Proceeded.Count} births went ahead");
            Assert.True(run.Proceeded.Single().Equals(new ClusterConfig([1, 2, 4])), $"seed {seed}: a birth went ahead on the stale roster: {run.Trace}");
        }
    }

    [Fact]
    public void Without_claims_the_same_races_start_two_configurations()
    {
        int diverged = 0;
        for (int seed = 0; seed < 200; seed++)
        {
            var run = new Run(seed, SameRoster(), [(1, [1, 2, 3]), (2, [2, 3, 4])], answerLossRate: 0, claimsOff: true);
            run.Execute();
            if (run.Proceeded.Distinct().Count() > 1) diverged++;
        }
        Assert.True(diverged > 0, "the scheduler never raced two births: the tests above would prove nothing");
    }

    private static Dictionary<long, (ClusterConfig, long)> SameRoster()
    {
        var roster = new ClusterConfig([1, 2, 3, 4, 5]);
        return roster.Members.ToDictionary(id => id, _ => (roster, 0L));
    }

    private sealed class Silo(long id, ClusterConfig roster, long version, bool claimsOff)
    {
        public long Id { get; } = id;
        public ClusterConfig Roster { get; set; } = roster;
        public long Version { get; set; } = version;
        public BirthClaims Claims { get; } = new(new BirthClaimsTests.ManualClock(), lifetimeMs: 30_000);
        public ClusterConfig? Held { get; private set; }

        public BirthAnswer Answer(BirthClaim claim)
        {
            long[]? newer = Version > claim.RosterVersion ? [.. Roster.Members] : null;
            if (claimsOff) return Held is { } h ? new(BirthAnswerKind.Existing, [.. h.Members], 0, Version, newer) : new(BirthAnswerKind.Granted, null, 0, Version, newer);
            var kind = Claims.TryClaim(Group, claim, () => Held is not null, out var other);
            return kind switch
            {
                BirthAnswerKind.Existing => new(kind, [.. Held!.Members], 0, Version, newer),
                BirthAnswerKind.Claimed => new(kind, other!.Config, other.Proposer, Version, newer),
                _ => new(kind, null, 0, Version, newer),
            };
        }

        /// <summary>A replica is created here (by this silo's birth, an adoption, or a peer's message naming an existing group).</summary>
        public void Create(ClusterConfig config) => Claims.Settle(Group, () => Held ??= config);
    }

    private sealed class Proposer(Silo home, long[]? fixedConfig)
    {
        public Silo Home { get; } = home;
        public int Round { get; set; }
        public BirthClaim? Claim { get; set; }
        public Dictionary<long, BirthAnswer?> Replies { get; } = [];
        public string Outcome { get; set; } = "running";
        public bool Watching { get; set; }

        // A proposal from the proposer's roster: its top 3 members by a fixed hash (or the scenario's own proposal).
        public long[] Proposal() => fixedConfig ?? [.. Home.Roster.Members.OrderBy(m => m * 7919 % 13).Take(3).Order()];
    }

    private sealed class Run
    {
        private readonly Random _random;
        private readonly Dictionary<long, Silo> _silos;
        private readonly List<Proposer> _proposers;
        private readonly List<Action> _pending = [];
        private readonly double _lossRate;
        private long _attempts;

        public Run(int seed, Dictionary<long, (ClusterConfig Roster, long Version)> silos, (long Home, long[]? Config)[] proposers, double answerLossRate, bool claimsOff = false)
        {
            _random = new Random(seed);
            _lossRate = answerLossRate;
            _silos = silos.ToDictionary(s => s.Key, s => new Silo(s.Key, s.Value.Roster, s.Value.Version, claimsOff));
            _proposers = [.. proposers.Select(p => new Proposer(_silos[p.Home], p.Config))];
            foreach (var p in _proposers) _pending.Add(() => StartRound(p));
        }

        public List<ClusterConfig> Proceeded { get; } = [];
        public System.Text.StringBuilder Trace { get; } = new();
        public bool Finished => _proposers.All(p => p.Outcome is "proceeded" or "adopted");

        public void Execute()
        {
            for (int steps = 0; _pending.Count > 0; steps++)
            {
                Assert.True(steps < 100_000, "the run did not end");
                int next = _random.Next(_pending.Count);
                var action = _pending[next];
                _pending.RemoveAt(next);
                action();
            }
        }

        public void AssertOneConfiguration()
        {
            var created = _silos.Values.Where(s => s.Held is not null).Select(s => s.Held!).Distinct().ToList();
            Assert.True(Proceeded.Distinct().Count() <= 1, $"two births went ahead with different configurations: {Trace}");
            Assert.True(created.Count <= 1, $"replicas started from {created.Count} first configurations: {Trace}");
            if (Proceeded.Count > 0 && created.Count > 0) Assert.Equal(Proceeded[0], created[0]);
        }

        private void StartRound(Proposer p)
        {
            if (++p.Round > GroupBirth.MaxRounds)
            {
                p.Outcome = "gave up";
                if (p.Claim is { } last) Release(p, last);
                return;
            }
            long[] proposal = p.Proposal();
            if (p.Claim is { } old && (p.Watching || old.RosterVersion != p.Home.Version || !old.Config.SequenceEqual(proposal)))
            {
                Release(p, old);
                p.Claim = null;
            }
            var claim = p.Watching
                ? new BirthClaim(proposal, p.Home.Id, 0, p.Home.Version, Query: true)
                : p.Claim ??= new BirthClaim(proposal, p.Home.Id, ++_attempts, p.Home.Version);
            p.Replies.Clear();
            foreach (var silo in _silos.Values)
            {
                p.Replies[silo.Id] = null;
                _pending.Add(() =>
                {
                    // The answer is made (and the claim recorded) on delivery; it may then be lost on the way back.
                    var answer = silo.Answer(claim);
                    bool lost = silo != p.Home && _random.NextDouble() < _lossRate;
                    Trace.Append($"[{p.Home.Id}#{claim.Attempt}->{silo.Id}: {answer.Kind}{(lost ? " lost" : "")}] ");
                    Answered(p, claim, silo.Id, lost ? null : answer);
                });
            }
        }

        private void Answered(Proposer p, BirthClaim claim, long silo, BirthAnswer? answer)
        {
            p.Replies[silo] = answer;
            _answered[p] = _answered.GetValueOrDefault(p) + 1;
            if (_answered[p] < _silos.Count) return;
            _answered[p] = 0;
            var roster = p.Home.Roster;
            var verdict = BirthDecision.Decide(claim, roster, 3, [.. p.Replies.Select(r => new BirthReply(r.Key, r.Value))]);
            Trace.Append($"<{p.Home.Id}#{claim.Attempt} round {p.Round}: {verdict.Step} {verdict.Config} {verdict.Reason}> ");
            switch (verdict.Step)
            {
                case BirthStep.Proceed:
                    p.Outcome = "proceeded";
                    Proceeded.Add(verdict.Config!);
                    p.Home.Create(verdict.Config!);
                    // The group's leader reaches its members; each starts a replica from the existing configuration.
                    foreach (long member in verdict.Config!.Members.Where(_silos.ContainsKey)) _pending.Add(() => _silos[member].Create(verdict.Config!));
                    break;
                case BirthStep.Adopt:
                    p.Outcome = "adopted";
                    p.Home.Create(verdict.Config!);
                    if (p.Claim is not null) Release(p, p.Claim);
                    break;
                case BirthStep.Claim:
                    p.Watching = false;
                    _pending.Add(() => StartRound(p));
                    break;
                default:
                    if (verdict.Release && p.Claim is not null)
                    {
                        Release(p, p.Claim);
                        p.Claim = null;
                    }
                    p.Watching |= verdict.Watch;
                    if (verdict.NewerRoster is { } newer && newer.Version > p.Home.Version)
                    {
                        p.Home.Roster = newer.Roster;
                        p.Home.Version = newer.Version;
                    }
                    _pending.Add(() => StartRound(p));
                    break;
            }
        }

        private readonly Dictionary<Proposer, int> _answered = [];

        private void Release(Proposer p, BirthClaim claim)
        {
            foreach (var silo in _silos.Values) _pending.Add(() => silo.Claims.Release(Group, claim.Proposer, claim.Attempt));
        }
    }
}
