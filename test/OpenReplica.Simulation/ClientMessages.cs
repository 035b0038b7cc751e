using OpenReplica.Checker;

namespace OpenReplica.Simulation;

/// <summary>A client's request to a replica. Reads either go through the log or use read-index.</summary>
public sealed record ClientRequest(long ClientEndpoint, Guid ClientId, long Sequence, long FirstUnacknowledged, KvInput Input, bool ViaLog);

/// <summary>A replica's answer: the output, or a redirect (Output null) with a leader hint.</summary>
public sealed record ClientReply(long Sequence, KvOutput? Output, long? LeaderHint);
