using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Tendril.Server.Features.Upload;

/// <summary>A granted slot waiting for its PUT.</summary>
internal sealed record UploadSlot(string Id, string Owner, string FileName, long Size, string? ContentType, DateTimeOffset ExpiresAt);

/// <summary>An uploaded file: <c>{id}.bin</c> with its metadata in <c>{id}.json</c>.</summary>
internal sealed record UploadedFile(string Id, string Owner, string FileName, long Size, string? ContentType, DateTimeOffset UploadedAt, DateTimeOffset ExpiresAt);

/// <summary>
/// The files under <c>{DataDirectory}/uploads</c> and the slots granted in memory, with per-account usage (stored
/// files plus outstanding slots) for the quota. Small and lock-protected: uploads are rare next to stanzas.
/// </summary>
internal sealed class UploadStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Dictionary<string, UploadSlot> _slots = new(StringComparer.Ordinal);
    private readonly Dictionary<string, UploadedFile> _files = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly ILogger _logger;

    public UploadStore(string folder, ILogger logger)
    {
        Folder = folder;
        _logger = logger;
        Directory.CreateDirectory(folder);
        foreach (var path in Directory.EnumerateFiles(folder, "*.json"))
        {
            try
            {
                var file = JsonSerializer.Deserialize<UploadedFile>(File.ReadAllText(path), Json);
                if (file is not null && File.Exists(DataPath(file.Id))) _files[file.Id] = file;
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
                _logger.LogWarning("Skipping unreadable upload metadata {Path}: {Error}", path, e.Message);
            }
        }
        foreach (var part in Directory.EnumerateFiles(folder, "*.part")) TryDelete(part);
    }

    public string Folder { get; }

    public int FileCount
    {
        get { lock (_gate) return _files.Count; }
    }

    public string DataPath(string id) => Path.Combine(Folder, id + ".bin");

    private string MetaPath(string id) => Path.Combine(Folder, id + ".json");

    public string PartPath(string id) => Path.Combine(Folder, id + ".part");

    /// <summary>Bytes an account holds: stored files and slots not yet used.</summary>
    public long Usage(string owner)
    {
        lock (_gate) return UsageLocked(owner);
    }

    private long UsageLocked(string owner) =>
        _files.Values.Where(f => f.Owner == owner).Sum(f => f.Size) + _slots.Values.Where(s => s.Owner == owner).Sum(s => s.Size);

    /// <summary>Grants a slot unless it would take the account past <paramref name="quota"/>; null then.</summary>
    public UploadSlot? TryCreateSlot(string owner, string fileName, long size, string? contentType, long quota, DateTimeOffset expiresAt)
    {
        lock (_gate)
        {
            if (UsageLocked(owner) + size > quota) return null;
            var slot = new UploadSlot(NewId(), owner, fileName, size, contentType, expiresAt);
            _slots[slot.Id] = slot;
            return slot;
        }
    }

    /// <summary>Takes a slot for its PUT (once): null when unknown, used or expired.</summary>
    public UploadSlot? TakeSlot(string id, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (!_slots.Remove(id, out var slot)) return null;
            return slot.ExpiresAt < now ? null : slot;
        }
    }

    /// <summary>Records a file whose bytes are in <see cref="PartPath"/>: writes the metadata, then moves the data in place.</summary>
    public void Commit(UploadedFile file)
    {
        File.WriteAllText(MetaPath(file.Id), JsonSerializer.Serialize(file, Json));
        File.Move(PartPath(file.Id), DataPath(file.Id), overwrite: true);
        lock (_gate) _files[file.Id] = file;
    }

    public UploadedFile? Find(string id, DateTimeOffset now)
    {
        lock (_gate) return _files.TryGetValue(id, out var file) && file.ExpiresAt > now ? file : null;
    }

    /// <summary>Deletes expired files and forgets expired slots. Returns the number of files deleted.</summary>
    public int Sweep(DateTimeOffset now)
    {
        List<UploadedFile> expired;
        lock (_gate)
        {
            expired = [.. _files.Values.Where(f => f.ExpiresAt <= now)];
            foreach (var f in expired) _files.Remove(f.Id);
            foreach (var id in _slots.Where(p => p.Value.ExpiresAt <= now).Select(p => p.Key).ToList()) _slots.Remove(id);
        }
        foreach (var f in expired)
        {
            TryDelete(DataPath(f.Id));
            TryDelete(MetaPath(f.Id));
        }
        if (expired.Count > 0) _logger.LogInformation("Deleted {Count} expired upload(s)", expired.Count);
        return expired.Count;
    }

    private void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("Cannot delete {Path}: {Error}", path, e.Message);
        }
    }

    /// <summary>192 random bits, URL-safe: the slot URL is the only capability for PUT and GET.</summary>
    private static string NewId() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
}
