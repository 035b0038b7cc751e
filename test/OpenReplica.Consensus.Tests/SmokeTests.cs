using OpenReplica.Consensus;
namespace OpenReplica.Consensus.Tests;
public class SmokeTests { [Fact] public void Works() => Assert.Equal(2, Placeholder.Two); }
