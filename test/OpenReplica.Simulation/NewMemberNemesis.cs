using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>
/// A scripted fault for the rule that a replica leads only once it knows the configuration in force above its commit
/// index (docs/consensus.md, "A replica added to a group", rule 3; planted bug <see cref="PlantedBug.LeadBeforeKnownConfig"/>),
/// on the seeds whose <see cref="FaultModel.NewMemberNemesis"/> is set. A silo added to a group for the first time
/// starts its replica from a peer's view, which may name the newest configuration alone (a birth that adopted it);
/// slots below it belong to configurations the replica does not know. The nemesis builds the history in which a guess
/// there chooses a second value, in a group of three:
/// <list type="number">
/// <item>it cuts a member (the laggard) off; the group goes on choosing with the other two;</item>
/// <item>a little later it replaces the third member (the victim) with a new id through the leader;</item>
/// <item>once that configuration is chosen, it starts the new member's replica from the newest configuration alone,
/// leaves it alone with the laggard, and makes it campaign. Its promise and the laggard's are a quorum of the newest
/// configuration, not of the one that chose the slots the laggard missed.</item>
/// </list>
/// </summary>
internal sealed class NewMemberNemesis(Simulation simulation) : ScriptedNemesis(simulation)
{
    private enum Step { Idle, Lagging, Replacing, Alone }

    private Step _step;
    private long _laggard, _victim, _newcomer;
    private ClusterConfig? _next;
    private long _nextAt, _giveUpAt;

    public override void Tick()
    {
        if ((_step == Step.Lagging || _step == Step.Replacing) && Sim.Now >= _giveUpAt)
        {
            // A newcomer not started yet starts as the simulator starts any new member, from the proposer's view.
            if (_step == Step.Replacing) Sim.StartUnstarted(_newcomer);
            Stop($"gave up in step {_step}");
            return;
        }
        switch (_step)
        {
            case Step.Idle:
                if (Sim.Random.Chance(StartChance)) CutLaggard();
                break;
            case Step.Lagging:
                if (Sim.Now >= _nextAt) ReplaceVictim();
                break;
            case Step.Replacing:
                StartNewcomer();
                break;
            case Step.Alone:
                if (Sim.Now >= _nextAt) Stop("done");
                break;
        }
    }

    private void CutLaggard()
    {
        if (!LeaderOfThree(allUp: false, out _, out _laggard, out _victim)) return;
        Sim.NoteFault();
        Sim.Trace($"nemesis: r{_laggard} lags while r{_victim} is replaced by a member that knows only the newest configuration");
        Sim.Cut([_laggard]);
        _step = Step.Lagging;
        _nextAt = Sim.Now + Sim.Random.Next(100, 600);
        _giveUpAt = Sim.Now + GiveUpAfter;
    }

    private void ReplaceVictim()
    {
        if (Sim.Leader is not { Core: { } core } leader || leader.Id == _laggard) return;
        var current = core.Configs.Latest;
        if (!current.Contains(_victim) || !current.Contains(_laggard) || current.Members.Count != 3 || core.Configs.LatestFromSlot > core.CommitIndex + 1)
        {
            Stop("the group no longer holds both");
            return;
        }
        _next = current.Replace(_victim, Sim.NextReplicaId);
        _newcomer = Sim.ProposeNewMemberLater(leader, _next, $" (nemesis: r{_victim} replaced, its successor started later)");
        _step = Step.Replacing;
    }

    private void StartNewcomer()
    {
        if (Sim.Leader is not { Core: { } core } leader || !core.Configs.Latest.Equals(_next)) return;
        var view = ConfigHistory.FromEpochs([(core.Configs.LatestFromSlot, core.Configs.Latest)]);
        Sim.AddMember(_newcomer, view);
        Sim.Cut([_laggard, _newcomer]); // in place of the laggard's own cut
        Sim.CampaignOn(Sim.Nodes[_newcomer]);
        _step = Step.Alone;
        _nextAt = Sim.Now + Sim.Random.Next(300, 1_500);
    }

    protected override void OnStopped() => _step = Step.Idle;
}
