using Microsoft.Extensions.Logging.Abstractions;
using Tendril.Server.Features.Upload;

namespace Tendril.Server.Tests.Operations;

public sealed class UploadStoreTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tendril-uploads-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Files_expire_and_are_swept_slots_expire_and_the_index_survives_a_restart()
    {
        var now = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var store = new UploadStore(_folder, NullLogger.Instance);
        var slot = store.TryCreateSlot("juliet@localhost", "a.txt", 3, "text/plain", quota: 10, now.AddMinutes(5))!;
        Assert.Null(store.TryCreateSlot("juliet@localhost", "b.txt", 8, null, quota: 10, now.AddMinutes(5))); // 3 + 8 > 10
        Assert.Equal(3, store.Usage("juliet@localhost"));

        var taken = store.TakeSlot(slot.Id, now.AddMinutes(1))!;
        File.WriteAllBytes(store.PartPath(taken.Id), [1, 2, 3]);
        store.Commit(new UploadedFile(taken.Id, taken.Owner, taken.FileName, 3, taken.ContentType, now, now.AddDays(30)));
        Assert.Null(store.TakeSlot(slot.Id, now)); // used
        Assert.NotNull(store.Find(slot.Id, now.AddDays(29)));
        Assert.Null(store.Find(slot.Id, now.AddDays(30))); // expired even before the sweep

        var expiring = store.TryCreateSlot("romeo@localhost", "c.txt", 1, null, quota: 10, now.AddMinutes(5))!;
        Assert.Null(store.TakeSlot(expiring.Id, now.AddMinutes(6))); // slot expired

        var reopened = new UploadStore(_folder, NullLogger.Instance);
        Assert.Equal(1, reopened.FileCount);
        Assert.Equal(0, reopened.Sweep(now.AddDays(29)));
        Assert.Equal(1, reopened.Sweep(now.AddDays(31)));
        Assert.False(File.Exists(reopened.DataPath(slot.Id)));
        Assert.Equal(0, new UploadStore(_folder, NullLogger.Instance).FileCount);
    }

    [Theory]
    [InlineData("photo.jpg", "photo.jpg")]
    [InlineData("../../etc/passwd", "passwd")]
    [InlineData("C:\\Users\\x\\doc.pdf", "doc.pdf")]
    [InlineData("..", null)]
    [InlineData("dir/", null)]
    [InlineData("a\u0001b", "ab")]
    public void File_names_lose_their_paths(string input, string? expected) => Assert.Equal(expected, HttpUploadFeature.SanitizeFileName(input));

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
