namespace OpenReplica.Consensus;
public static class Placeholder { public static int Two => 2; }
