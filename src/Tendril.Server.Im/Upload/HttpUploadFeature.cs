using Tendril.Server.Features;
using Tendril.Server.Configuration;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Hosting;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features.Upload;

/// <summary>
/// HTTP File Upload (XEP-0363): the service <c>upload.{Domain}</c> grants slots over XMPP (size and per-account
/// quota checked), and the HTTP port takes the PUT and serves the GET at the slot's unguessable URL. Files live under
/// <c>{DataDirectory}/uploads</c> and are deleted <c>ExpiryDays</c> after upload by one timer. Limits are read from
/// the options in force at each request (reloadable); the service domain is fixed at start.
/// </summary>
public sealed class HttpUploadFeature : IServerFeature, IHttpEndpoints, IAsyncDisposable
{
    public const string Namespace = "urn:xmpp:http:upload:0";

    private XmppServer? _server;
    private UploadStore? _store;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    private CancellationTokenSource? _sweeper;
    private Task? _sweepLoop;

    /// <summary>The service JID once registered (null when disabled).</summary>
    public string? ServiceDomain { get; private set; }

    /// <summary>How often expired files are looked for.</summary>
    public static TimeSpan SweepInterval { get; set; } = TimeSpan.FromHours(1);

    public void Register(FeatureRegistry registry)
    {
        var server = registry.Server;
        if (server is null || !server.Options.Upload.Enabled) return;
        _server = server;
        _logger = server.LoggerFactory.CreateLogger("Tendril.Upload");
        var options = server.Options.Upload;
        ServiceDomain = string.IsNullOrWhiteSpace(options.Domain) ? "upload." + registry.Domain : Jid.Create(null, options.Domain).Domain;
        _store = new UploadStore(Path.Combine(Path.GetFullPath(server.Options.DataDirectory), "uploads"), _logger);
        registry.AddHostedDomain(ServiceDomain, HandleAsync);
        registry.AddDiscoItem(new DiscoItem(ServiceDomain, "HTTP File Upload"));
        _sweeper = new CancellationTokenSource();
        _sweepLoop = SweepLoopAsync(server.Time, _sweeper.Token);
    }

    /// <summary>Deletes expired files now (the timer does this every <see cref="SweepInterval"/>).</summary>
    public int Sweep() => _store is null || _server is null ? 0 : _store.Sweep(_server.Time.GetUtcNow());

    private async Task SweepLoopAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(SweepInterval, time);
        try
        {
            Sweep();
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false)) Sweep();
        }
        catch (OperationCanceledException)
        {
        }
    }

    // ---- XMPP -----------------------------------------------------------------------------------------------------

    private ValueTask HandleAsync(XmlElement stanza, Jid from, Jid to, C2sSession? origin)
    {
        var server = _server!;
        var type = stanza.GetAttribute("type");
        if (stanza.Name != "iq")
        {
            if (stanza.Name == "message" && type != "error") server.Router.BounceError(stanza, StanzaErrorCondition.ServiceUnavailable);
            return ValueTask.CompletedTask;
        }
        if (type is not ("get" or "set")) return ValueTask.CompletedTask;
        var payload = stanza.FirstElement();
        if (payload is null || to.Resource is not null)
        {
            server.Router.BounceError(stanza, StanzaErrorCondition.ServiceUnavailable);
        }
        else if (payload.Is("query", Ns.DiscoInfo) && type == "get")
        {
            Reply(stanza, to, from, DiscoInfo(payload.GetAttribute("node")));
        }
        else if (payload.Is("query", Ns.DiscoItems) && type == "get")
        {
            Reply(stanza, to, from, new XmlElement("query", Ns.DiscoItems));
        }
        else if (payload.Is("request", Namespace) && type == "get")
        {
            RequestSlot(stanza, payload, from, to);
        }
        else
        {
            server.Router.BounceError(stanza, StanzaErrorCondition.ServiceUnavailable);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>XEP-0363 §3: identity store/file, the feature, and the max-file-size in an XEP-0128 form.</summary>
    private XmlElement DiscoInfo(string? node)
    {
        var query = new XmlElement("query", Ns.DiscoInfo);
        if (node is not null) return query;
        query.AddElement("identity").SetAttribute("category", "store").SetAttribute("type", "file").SetAttribute("name", "HTTP File Upload");
        query.AddElement("feature").SetAttribute("var", Ns.DiscoInfo);
        query.AddElement("feature").SetAttribute("var", Namespace);
        query.Add(DataForm.Build("result", Namespace,
            [new DataForm.Field("max-file-size", "text-single", [_server!.Options.Upload.MaxFileBytes.ToString(CultureInfo.InvariantCulture)])]));
        return query;
    }

    private void RequestSlot(XmlElement iq, XmlElement request, Jid from, Jid to)
    {
        var server = _server!;
        var options = server.Options.Upload;
        if (from.Local is null || from.Domain != server.Domain)
        {
            server.Router.BounceError(iq, StanzaErrorCondition.NotAllowed, "Only accounts of this server may upload.");
            return;
        }
        var fileName = SanitizeFileName(request.GetAttribute("filename"));
        if (fileName is null || !long.TryParse(request.GetAttribute("size"), NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size <= 0)
        {
            server.Router.BounceError(iq, StanzaErrorCondition.BadRequest, "A slot request needs a filename and a positive size.");
            return;
        }
        var contentType = request.GetAttribute("content-type");
        if (contentType is { Length: 0 } || (contentType is not null && (contentType.Length > 200 || contentType.Any(char.IsControl)))) contentType = null;
        if (size > options.MaxFileBytes)
        {
            // §5 (XEP-0363): file-too-large with the limit.
            var tooLarge = new XmlElement("file-too-large", Namespace);
            tooLarge.AddElement("max-file-size").Add(options.MaxFileBytes.ToString(CultureInfo.InvariantCulture));
            server.Router.BounceError(iq, new StanzaError(StanzaErrorCondition.NotAcceptable, StanzaErrorType.Modify,
                $"File too large. The maximum file size is {options.MaxFileBytes} bytes.", tooLarge));
            return;
        }
        var now = server.Time.GetUtcNow();
        var slot = _store!.TryCreateSlot(from.Bare.ToString(), fileName, size, contentType, options.QuotaBytesPerUser, now.AddSeconds(options.SlotLifetimeSeconds));
        if (slot is null)
        {
            server.Router.BounceError(iq, new StanzaError(StanzaErrorCondition.ResourceConstraint, StanzaErrorType.Wait,
                $"Upload quota exceeded ({options.QuotaBytesPerUser} bytes per account); files expire after {options.ExpiryDays} days."));
            return;
        }
        var url = SlotUrl(slot);
        var result = new XmlElement("slot", Namespace);
        result.AddElement("put").SetAttribute("url", url);
        result.AddElement("get").SetAttribute("url", url);
        Reply(iq, to, from, result);
        _logger.LogInformation("Upload slot for {Owner}: {File} ({Size} bytes)", slot.Owner, slot.FileName, slot.Size);
    }

    private string SlotUrl(UploadSlot slot)
    {
        var options = _server!.Options;
        var baseUrl = options.Upload.PublicBaseUrl.Length > 0
            ? options.Upload.PublicBaseUrl.TrimEnd('/')
            : $"http://{_server.Domain}:{options.Http.Port.ToString(CultureInfo.InvariantCulture)}";
        return $"{baseUrl}/upload/{slot.Id}/{Uri.EscapeDataString(slot.FileName)}";
    }

    /// <summary>The last path segment, without control characters; null when nothing usable is left.</summary>
    internal static string? SanitizeFileName(string? name)
    {
        if (name is null) return null;
        name = name.Replace('\\', '/');
        name = name[(name.LastIndexOf('/') + 1)..];
        name = new string([.. name.Where(c => !char.IsControl(c))]).Trim();
        if (name.Length > 200) name = name[^200..];
        return name.Length == 0 || name is "." or ".." ? null : name;
    }

    private void Reply(XmlElement iq, Jid from, Jid to, XmlElement payload)
    {
        var result = new XmlElement("iq", Ns.Client).SetAttribute("type", "result").SetAttribute("id", iq.GetAttribute("id") ?? "")
            .SetAttribute("from", from.ToString()).SetAttribute("to", to.ToString());
        result.Add(payload);
        _server!.Router.DeliverFromServer(result, to);
    }

    // ---- HTTP -----------------------------------------------------------------------------------------------------

    public void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods("/upload/{id}/{name}", [HttpMethods.Put], PutAsync);
        endpoints.MapMethods("/upload/{id}/{name}", [HttpMethods.Get, HttpMethods.Head], Get);
        endpoints.MapMethods("/upload/{id}/{name}", [HttpMethods.Options], (HttpContext c) =>
        {
            Cors(c);
            return Results.NoContent();
        });
    }

    private static void Cors(HttpContext context)
    {
        // The URL is the capability, so any web client may use it (XEP-0363 §6 recommends CORS for web clients).
        var headers = context.Response.Headers;
        headers.AccessControlAllowOrigin = "*";
        headers.AccessControlAllowMethods = "GET, HEAD, PUT, OPTIONS";
        headers.AccessControlAllowHeaders = "Content-Type";
        headers.AccessControlMaxAge = "86400";
    }

    private async Task<IResult> PutAsync(HttpContext context, string id, string name)
    {
        Cors(context);
        if (_store is null || _server is null) return Results.NotFound();
        var now = _server.Time.GetUtcNow();
        var slot = _store.TakeSlot(id, now);
        if (slot is null || slot.FileName != name) return Results.Text("Unknown, used or expired upload slot.", statusCode: StatusCodes.Status403Forbidden);
        var request = context.Request;
        if (request.ContentLength is not { } length) return Results.Text("Content-Length is required.", statusCode: StatusCodes.Status411LengthRequired);
        if (length > slot.Size) return Results.Text($"The slot is for {slot.Size} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge);
        if (length != slot.Size) return Results.Text($"The slot is for {slot.Size} bytes, not {length}.", statusCode: StatusCodes.Status400BadRequest);
        if (slot.ContentType is not null && !SameMediaType(slot.ContentType, request.ContentType))
        {
            return Results.Text($"The slot is for Content-Type {slot.ContentType}.", statusCode: StatusCodes.Status400BadRequest);
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } max) max.MaxRequestBodySize = slot.Size;

        var part = _store.PartPath(slot.Id);
        long written = 0;
        try
        {
            await using (var file = new FileStream(part, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                var buffer = new byte[81920];
                int read;
                while ((read = await request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false)) > 0)
                {
                    written += read;
                    if (written > slot.Size) break;
                    await file.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted).ConfigureAwait(false);
                }
            }
            if (written != slot.Size)
            {
                File.Delete(part);
                return Results.Text($"Received {written} bytes for a {slot.Size}-byte slot.", statusCode: StatusCodes.Status400BadRequest);
            }
            _store.Commit(new UploadedFile(slot.Id, slot.Owner, slot.FileName, slot.Size, slot.ContentType, now, now.AddDays(_server.Options.Upload.ExpiryDays)));
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or BadHttpRequestException or UnauthorizedAccessException)
        {
            try { File.Delete(part); } catch (IOException) { }
            _logger.LogWarning("Upload {Id} of {Owner} failed: {Error}", slot.Id, slot.Owner, e.Message);
            return Results.Text("The upload failed: " + e.Message, statusCode: StatusCodes.Status400BadRequest);
        }
        _logger.LogInformation("Upload {Id} of {Owner} stored ({Size} bytes)", slot.Id, slot.Owner, slot.Size);
        return Results.StatusCode(StatusCodes.Status201Created);
    }

    private IResult Get(HttpContext context, string id, string name)
    {
        Cors(context);
        if (_store is null || _server is null) return Results.NotFound();
        var file = _store.Find(id, _server.Time.GetUtcNow());
        if (file is null || file.FileName != name) return Results.NotFound();
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        // Uploaded HTML or SVG must not run script on this origin (the admin page lives here too).
        headers.ContentSecurityPolicy = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox";
        headers.CacheControl = "public, max-age=86400, immutable";
        return Results.File(_store.DataPath(file.Id), file.ContentType ?? "application/octet-stream", enableRangeProcessing: true);
    }

    private static bool SameMediaType(string expected, string? actual)
    {
        if (actual is null) return false;
        static string Bare(string t) => t.Split(';')[0].Trim();
        return string.Equals(Bare(expected), Bare(actual), StringComparison.OrdinalIgnoreCase);
    }

    public async ValueTask DisposeAsync()
    {
        // Registered under three service types: the container disposes it more than once.
        var sweeper = Interlocked.Exchange(ref _sweeper, null);
        if (sweeper is null) return;
        await sweeper.CancelAsync().ConfigureAwait(false);
        if (_sweepLoop is not null) await _sweepLoop.ConfigureAwait(false);
        sweeper.Dispose();
    }
}

public static class HttpUploadExtensions
{
    /// <summary>XEP-0363 HTTP File Upload: one feature object serving both XMPP (slots) and HTTP (PUT/GET).</summary>
    public static IServiceCollection AddHttpUpload(this IServiceCollection services)
    {
        services.AddFeatureOptions<UploadOptions>();
        services.TryAddSingleton<HttpUploadFeature>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServerFeature, HttpUploadFeature>(sp => sp.GetRequiredService<HttpUploadFeature>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHttpEndpoints, HttpUploadFeature>(sp => sp.GetRequiredService<HttpUploadFeature>()));
        return services;
    }
}
