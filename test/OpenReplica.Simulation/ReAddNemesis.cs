using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>
/// A scripted fault for the vote floor (docs/consensus.md, "A member added back: the vote floor"), on the seeds whose
/// <see cref="FaultModel.ReAddNemesis"/> is set. Random faults rarely build the history the floor guards against: a
/// slot chosen with the votes of a member that is later removed and added back with an empty replica, while another
/// member that missed the slot still counts it in its configuration. The nemesis builds it, in four steps:
/// <list type="number">
/// <item>it cuts a member (the laggard) off from every other replica; the group goes on choosing without it;</item>
/// <item>a little later it removes another member (the victim) through the leader, by replacing it or, in a group
/// larger than three, by leaving it out;</item>
/// <item>once the victim's silo may drop its replica (<see cref="Simulation.DroppedMembers"/>), it adds the victim back
/// with a new, empty replica;</item>
/// <item>at once it leaves the laggard alone with the victim's new replica, cut off from everyone else, and makes
/// the laggard campaign. The laggard still sees the configuration the victim was in when the slots it missed were
/// chosen; the victim's empty promise may not make those slots its to fill.</item>
/// </list>
/// </summary>
internal sealed class ReAddNemesis(Simulation simulation) : ScriptedNemesis(simulation)
{
    private enum Step { Idle, Lagging, Removed, Alone }

    private Step _step;
    private long _laggard, _victim;
    private long _nextAt, _giveUpAt;

    public override void Tick()
    {
        switch (_step)
        {
            case Step.Idle:
                if (Sim.Random.Chance(StartChance)) CutLaggard();
                break;
            case Step.Lagging:
                if (Sim.Now >= _giveUpAt) Stop("the victim was not removed");
                else if (Sim.Now >= _nextAt) RemoveVictim();
                break;
            case Step.Removed:
                if (Sim.Now >= _giveUpAt) Stop("the victim could not be added back");
                else AddVictimBack();
                break;
            case Step.Alone:
                if (Sim.Now >= _nextAt) Stop("done");
                break;
        }
    }

    private void CutLaggard()
    {
        if (Sim.Leader is not { Core: { } core } leader) return;
        var others = core.Configs.Latest.Members.Where(id => id != leader.Id && Sim.Nodes[id].IsUp).ToList();
        if (others.Count < 2) return;
        _laggard = others[Sim.Random.Next(0, others.Count)];
        others.Remove(_laggard);
        _victim = others[Sim.Random.Next(0, others.Count)];
        Sim.NoteFault();
        Sim.Trace($"nemesis: r{_laggard} lags while r{_victim} is removed and added back");
        Sim.Cut([_laggard]);
        _step = Step.Lagging;
        _nextAt = Sim.Now + Sim.Random.Next(100, 600);
        _giveUpAt = Sim.Now + GiveUpAfter;
    }

    private void RemoveVictim()
    {
        if (Sim.Leader is not { Core: { } core } leader || leader.Id == _victim) return;
        var current = core.Configs.Latest;
        if (!current.Contains(_victim) || !current.Contains(_laggard))
        {
            Stop("the group no longer holds both");
            return;
        }
        var next = current.Members.Count > 3 ? current.Without(_victim) : current.Replace(_victim, Sim.NextReplicaId);
        Sim.ProposeConfig(leader, next, $" (nemesis: r{_victim} removed)");
        _step = Step.Removed;
    }

    private void AddVictimBack()
    {
        if (Sim.Leader is not { Core: { } core } leader || leader.Id == _victim || !Sim.DroppedMembers(core).Contains(_victim)) return;
        Sim.AddBack(leader, _victim);
        Sim.Cut([_laggard, _victim]); // in place of the laggard's own cut
        Sim.CampaignOn(Sim.Nodes[_laggard]);
        _step = Step.Alone;
        _nextAt = Sim.Now + Sim.Random.Next(300, 1_500);
    }

    protected override void OnStopped() => _step = Step.Idle;
}
