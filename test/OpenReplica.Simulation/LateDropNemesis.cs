using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>
/// A scripted fault for what a dropped replica leaves (<see cref="FormerReplica"/>; docs/consensus.md, "A member added
/// back"), on the seeds whose <see cref="FaultModel.LateDropNemesis"/> is set. A silo drops its replica on a decision
/// taken from a view seconds old; if the group added the silo back meanwhile, the old replica may have voted in the
/// configuration that added it back before the drop, and the vote floor of the replica started next (the first slot
/// of that configuration) does not reach those slots. The nemesis builds that history in a group of three, in five steps:
/// <list type="number">
/// <item>it cuts a member (the victim) off from every other replica and replaces it through the leader;</item>
/// <item>once the victim's silo may drop its replica (<see cref="Simulation.DroppedMembers"/>), it adds the victim back
/// in place of its replacement, while the victim's old replica still runs;</item>
/// <item>once the third member (the laggard) has that configuration in force, it cuts the laggard off and lets the
/// victim hear the leader's accepts only, and answer them (it learns no configuration: its silo's drop still holds);</item>
/// <item>once the old replica holds an entry of a slot the laggard has not committed, its silo drops it and starts
/// a new replica from the leader's view;</item>
/// <item>at once it leaves the laggard alone with that new replica and makes the laggard campaign: a promise that
/// forgot the old replica's votes would let it fill that slot with a second value.</item>
/// </list>
/// Since session 35 the host refuses exactly this drop (the old replica voted after the decision:
/// <c>PeerView.StillLeft</c>, checked by the engine simulator's late drops); the note is what keeps the group safe
/// where the host cannot see such votes, and this nemesis checks that second line on its own.
/// </summary>
internal sealed class LateDropNemesis(Simulation simulation) : ScriptedNemesis(simulation)
{
    private enum Step { Idle, Replaced, AddedBack, Voting, Alone }

    private Step _step;
    private long _victim, _laggard, _replacement;
    private ClusterConfig? _addedBack;
    private long _victimKnewFrom; // the slot the victim's newest configuration was in force from when it was cut off
    private long _laggardCommit;
    private long _nextAt, _giveUpAt;

    /// <summary>Old replicas dropped after they voted in the configuration that added them back.</summary>
    public int LateDrops { get; private set; }

    public override void Tick()
    {
        if (_step != Step.Idle && _step != Step.Alone && Sim.Now >= _giveUpAt)
        {
            Stop($"gave up in step {_step}");
            return;
        }
        switch (_step)
        {
            case Step.Idle:
                if (Sim.Random.Chance(StartChance)) CutAndReplaceVictim();
                break;
            case Step.Replaced:
                AddVictimBack();
                break;
            case Step.AddedBack:
                CutLaggard();
                break;
            case Step.Voting:
                DropOldReplica();
                break;
            case Step.Alone:
                if (Sim.Now >= _nextAt) Stop("done");
                break;
        }
    }

    private void CutAndReplaceVictim()
    {
        if (!LeaderOfThree(allUp: true, out var leader, out _victim, out _laggard)) return;
        var core = leader.Core!;
        var current = core.Configs.Latest;
        if (core.Configs.LatestFromSlot > core.CommitIndex + 1) return;
        _victimKnewFrom = Sim.Nodes[_victim].Core!.Configs.LatestFromSlot;
        _replacement = Sim.NextReplicaId;
        Sim.Trace($"nemesis: r{_victim} replaced and added back while its old replica still runs; r{_laggard} lags");
        Sim.Cut([_victim]);
        Sim.ProposeConfig(leader, current.Replace(_victim, _replacement), $" (nemesis: r{_victim} replaced)");
        _step = Step.Replaced;
        _giveUpAt = Sim.Now + GiveUpAfter;
    }

    private void AddVictimBack()
    {
        if (Sim.Leader is not { Core: { } core } leader || leader.Id == _victim) return;
        if (!Sim.DroppedMembers(core).Contains(_victim)) return;
        var current = core.Configs.Latest;
        if (!current.Contains(_replacement) || !current.Contains(_laggard) || current.Members.Count != 3)
        {
            Stop("the group changed otherwise");
            return;
        }
        _addedBack = current.Replace(_replacement, _victim);
        Sim.ProposeConfig(leader, _addedBack, $" (nemesis: r{_victim} added back, its old replica still running)");
        _step = Step.AddedBack;
        _giveUpAt = Sim.Now + GiveUpAfter;
    }

    private void CutLaggard()
    {
        if (Sim.Leader is not { Core: { } core } leader || leader.Id == _victim || leader.Id == _laggard) return;
        if (!core.Configs.Latest.Equals(_addedBack) || core.Configs.LatestFromSlot > core.CommitIndex + 1) return;
        if (Sim.Nodes[_laggard].Core is not { } laggard || laggard.CommitIndex + 1 < core.Configs.LatestFromSlot) return;
        if (Sim.Nodes[_victim].Core is not { } victim || victim.Configs.LatestFromSlot != _victimKnewFrom)
        {
            Stop("the victim's old replica is down or learned a configuration");
            return;
        }
        _laggardCommit = laggard.CommitIndex;
        Sim.Cut([_laggard]); // in place of the victim's cut
        Sim.HearOnlyVotes(_victim);
        _step = Step.Voting;
        _giveUpAt = Sim.Now + GiveUpAfter;
    }

    private void DropOldReplica()
    {
        if (Sim.Nodes[_victim].Core is not { } victim || victim.Configs.LatestFromSlot != _victimKnewFrom)
        {
            Stop("the victim's old replica is down or learned a configuration");
            return;
        }
        if (victim.HighestSlotHeld <= _laggardCommit) return;
        if (Sim.Leader is not { Core: { } core } leader || leader.Id == _victim) return;
        Sim.HearOnlyVotes(null);
        Sim.NoteFault();
        Sim.Trace($"nemesis: r{_victim}'s silo drops the old replica (it holds slots up to {victim.HighestSlotHeld}; r{_laggard} committed {_laggardCommit})");
        Sim.StartOver(_victim, core.Configs);
        LateDrops++;
        Sim.Cut([_laggard, _victim]);
        Sim.CampaignOn(Sim.Nodes[_laggard]);
        _step = Step.Alone;
        _nextAt = Sim.Now + Sim.Random.Next(300, 1_500);
    }

    protected override void OnStopped() => _step = Step.Idle;
}
