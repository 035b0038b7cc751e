using System.Net;
using System.Reflection;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A stopping silo tells each peer that its replica leaves, naming the silo it leaves from, so that a peer that had not
/// learned that address yet does not keep the replica marked as leaving after it restarts under a new address. A
/// peer of an earlier version (a rolling upgrade) does not know that method: Orleans answers such a call with an
/// error, and the peer is told the old way.
/// </summary>
public sealed class LeaveAnnouncementTests
{
    private static readonly SiloAddress From = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 42);

    [Fact]
    public async Task A_peer_is_told_which_silo_the_replica_leaves_from()
    {
        var host = RecordingHost.Create(knowsLeaveFrom: true);
        await Decommission.TellLeavingAsync(host, 7, From);
        Assert.Equal(["LeaveRosterFromAsync(7, " + From + ")"], ((RecordingHost)(object)host).Calls);
    }

    [Fact]
    public async Task A_peer_of_an_earlier_version_is_told_the_old_way()
    {
        var host = RecordingHost.Create(knowsLeaveFrom: false);
        await Decommission.TellLeavingAsync(host, 7, From);
        Assert.Equal(["LeaveRosterFromAsync(7, " + From + ")", "LeaveRosterAsync(7)"], ((RecordingHost)(object)host).Calls);
    }

    /// <summary>An <see cref="IReplicaHost"/> that records the leave calls; without the new method it fails it as an old silo's Orleans does.</summary>
    public class RecordingHost : DispatchProxy
    {
        public List<string> Calls { get; } = [];

        private bool _knowsLeaveFrom;

        public static IReplicaHost Create(bool knowsLeaveFrom)
        {
            var host = Create<IReplicaHost, RecordingHost>();
            ((RecordingHost)(object)host)._knowsLeaveFrom = knowsLeaveFrom;
            return host;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            string name = targetMethod!.Name;
            Calls.Add($"{name}({string.Join(", ", args ?? [])})");
            return name switch
            {
                nameof(IReplicaHost.LeaveRosterAsync) => Task.CompletedTask,
                nameof(IReplicaHost.LeaveRosterFromAsync) when _knowsLeaveFrom => Task.CompletedTask,
                nameof(IReplicaHost.LeaveRosterFromAsync) => Task.FromException(new InvalidOperationException("Could not find a type for the alias 'LeaveRosterFromAsync'")),
                _ => throw new NotSupportedException(name),
            };
        }
    }
}
