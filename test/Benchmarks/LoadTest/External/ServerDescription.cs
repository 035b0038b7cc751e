namespace OpenReplica.LoadTest.External;

/// <summary>What a started server reports about itself, for the benchmark's doc: "redis 7.0.15" and its durability settings.</summary>
internal readonly record struct ServerDescription(string Version, string Settings);
