using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class OptionsTests
{
    public static TheoryData<string, Action<WalOptions>> InvalidSettings => new()
    {
        { nameof(WalOptions.Directory), o => o.Directory = " " },
        { nameof(WalOptions.SegmentBytes), o => o.SegmentBytes = 100 },
        { nameof(WalOptions.SegmentBytes), o => o.SegmentBytes = 2L << 30 },
        { nameof(WalOptions.MaxBatchRecords), o => o.MaxBatchRecords = 0 },
        { nameof(WalOptions.MaxBatchBytes), o => o.MaxBatchBytes = -1 },
        { nameof(WalOptions.QueueCapacity), o => o.QueueCapacity = 0 },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void Invalid_options_are_rejected_naming_the_option(string option, Action<WalOptions> spoil)
    {
        var options = new WalOptions { Directory = "/tmp/x", FileSystem = new FaultyFileSystem() };
        spoil(options);

        var ex = Assert.Throws<ArgumentException>(() => WriteAheadLog.Open(options));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains("WalOptions." + option, ex.Message);
    }

    [Fact]
    public void Defaults_are_valid()
    {
        var options = new WalOptions { Directory = "/tmp/x" };
        options.Validate();
        Assert.Equal(64L * 1024 * 1024, options.SegmentBytes);
    }
}
