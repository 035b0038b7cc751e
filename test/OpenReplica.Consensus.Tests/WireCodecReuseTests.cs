namespace OpenReplica.Consensus.Tests;

/// <summary>
/// <see cref="WireCodec"/> decodes every message through one buffer, stream and reader per thread: a message decoded
/// after a longer or a shorter one must come out exactly as it was encoded, and what it holds (payloads) must not
/// change when the next message is decoded.
/// </summary>
public sealed class WireCodecReuseTests
{
    [Fact]
    public void Messages_of_growing_and_shrinking_sizes_decode_exactly_and_keep_their_payloads()
    {
        var ballot = new Ballot(3, 1);
        Accept AcceptOf(int payloadBytes, byte fill) => new(1, 2, ballot,
            [new LogEntry(7, ballot, LogValue.Batch([new Command(Guid.NewGuid(), 5, 4, Enumerable.Repeat(fill, payloadBytes).ToArray())]), Chosen: false)], 6);
        var messages = new Message[]
        {
            new Heartbeat(1, 2, ballot, 6, 0),
            AcceptOf(10_000, 0xAA), // longer than the reused buffer's first size
            new Accepted(2, 1, ballot, [7]),
            AcceptOf(300, 0x55),    // shorter than the one before: the end must move back
            AcceptOf(20_000, 0x11), // longer again: the end moves forward over what the last one left
        };
        var decoded = messages.Select(m => WireCodec.DecodeMessage(WireCodec.Encode(m))).ToList();

        for (int i = 0; i < messages.Length; i++)
        {
            Assert.Equal(WireCodec.Encode(messages[i]), WireCodec.Encode(decoded[i]));
        }
        // Decoded payloads are the decoder's own arrays, not views of its buffer that later decodings overwrite.
        var first = (Accept)decoded[1];
        Assert.All(first.Entries[0].Value.Commands[0].Payload, b => Assert.Equal(0xAA, b));
        Assert.Equal(10_000, first.Entries[0].Value.Commands[0].Payload.Length);
    }

    [Fact]
    public void A_truncated_message_after_a_longer_one_is_refused()
    {
        var ballot = new Ballot(3, 1);
        var longer = WireCodec.Encode(new Accept(1, 2, ballot, [new LogEntry(7, ballot, LogValue.Batch([new Command(Guid.NewGuid(), 5, 4, new byte[4096])]), Chosen: false)], 6));
        WireCodec.DecodeMessage(longer);
        var heartbeat = WireCodec.Encode(new Heartbeat(1, 2, ballot, 6, 0));
        // The bytes past the truncated end are still in the reused buffer: they must not be read as the message's.
        Assert.Throws<FormatException>(() => WireCodec.DecodeMessage(heartbeat.AsSpan(0, heartbeat.Length - 3)));
    }
}
