using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tendril.Storage;

namespace Tendril.Server.Admin;

/// <summary>
/// The admin web page: plain server-rendered HTML with inline CSS and one small inline script (a nonce under a strict
/// Content-Security-Policy) that refreshes the live counts from <c>/admin/api/stats</c>. No external assets. Every
/// change is a POST form with the CSRF token, answered with a redirect back to the page (post/redirect/get).
/// </summary>
internal sealed class AdminPage(AdminService admin, AdminAuthenticator auth)
{
    public void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/admin", (Delegate)PageAsync);
        endpoints.MapGet("/admin/login", IResult (HttpContext c) => Security.HttpPasswords.MayCarryPassword(admin.Server, c)
            ? Html(c, LoginForm(null), StatusCodes.Status200OK)
            : Html(c, Layout("Tendril admin — sign in", "<p class=msg id=message>" + E(Security.HttpPasswords.InsecureMessage(admin.Server, c)) + "</p>"), StatusCodes.Status200OK));
        endpoints.MapPost("/admin/login", (Delegate)LoginAsync);
        endpoints.MapPost("/admin/logout", Task<IResult> (HttpContext c) => FormAsync(c, (_, who) =>
        {
            if (who.Cookie is not null) auth.Revoke(who.Cookie);
            c.Response.Cookies.Delete(AdminAuthenticator.CookieName, new CookieOptions { Path = "/admin" });
            return Task.FromResult<string?>(null);
        }, "/admin/login"));
        endpoints.MapPost("/admin/users/add", Task<IResult> (HttpContext c) => FormAsync(c, async (form, who) =>
        {
            var jid = await admin.AddUserAsync(form["user"].ToString(), form["password"].ToString(), who.Jid, c.RequestAborted).ConfigureAwait(false);
            return $"Created {jid}.";
        }));
        endpoints.MapPost("/admin/users/delete", Task<IResult> (HttpContext c) => FormAsync(c, async (form, who) =>
        {
            await admin.DeleteUserAsync(form["user"].ToString(), who.Jid, c.RequestAborted).ConfigureAwait(false);
            return $"Deleted {form["user"]}.";
        }));
        endpoints.MapPost("/admin/users/password", Task<IResult> (HttpContext c) => FormAsync(c, async (form, who) =>
        {
            await admin.ResetPasswordAsync(form["user"].ToString(), form["password"].ToString(), who.Jid, c.RequestAborted).ConfigureAwait(false);
            return $"Changed the password of {form["user"]}.";
        }));
        endpoints.MapPost("/admin/sessions/kick", Task<IResult> (HttpContext c) => FormAsync(c, async (form, who) =>
        {
            var count = await admin.KickAsync(form["jid"].ToString(), who.Jid).ConfigureAwait(false);
            return $"Disconnected {count} session(s) of {form["jid"]}.";
        }));
        endpoints.MapPost("/admin/sections/{id}/{action}", Task<IResult> (HttpContext c, string id, string action) => FormAsync(c, async (form, who) =>
        {
            var section = admin.Sections.FirstOrDefault(s => s.Id == id && s.RowActions.Contains(action)) ?? throw new AdminException(404, $"No action '{action}' in '{id}'.");
            return await section.RunRowActionAsync(action, form["row"].ToString(), who.Jid, c.RequestAborted).ConfigureAwait(false);
        }));
        endpoints.MapPost("/admin/reload", Task<IResult> (HttpContext c) => FormAsync(c, (_, who) =>
        {
            var result = admin.Reload(who.Jid);
            return Task.FromResult<string?>(result.Success
                ? "Configuration reloaded; changed: " + (result.Changed.Count == 0 ? "nothing" : string.Join(", ", result.Changed))
                  + (result.RestartRequired.Count == 0 ? "" : "; at restart only: " + string.Join(", ", result.RestartRequired))
                : "Reload refused: " + result.Error);
        }));
    }

    private async Task<IResult> LoginAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var (status, identity, retryAfter) = await auth.CheckPasswordAsync(context, form["user"].ToString(), form["password"].ToString(), cookie: null).ConfigureAwait(false);
        switch (status)
        {
            case AdminAuthStatus.Insecure:
                return Html(context, Layout("Tendril admin — sign in", "<p class=msg id=message>" + E(Security.HttpPasswords.InsecureMessage(admin.Server, context)) + "</p>"), StatusCodes.Status403Forbidden);
            case AdminAuthStatus.Banned:
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Html(context, LoginForm("Too many failed logins from this address; try again later."), StatusCodes.Status429TooManyRequests);
        }
        // One answer for a wrong password and for an account that is not an administrator.
        if (status != AdminAuthStatus.Ok || identity is null) return Html(context, LoginForm("Wrong user or password, or not an administrator."), StatusCodes.Status401Unauthorized);
        var jid = identity.Jid;
        context.Response.Cookies.Append(AdminAuthenticator.CookieName, auth.IssueCookie(jid), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/admin",
            MaxAge = TimeSpan.FromMinutes(admin.Server.Options.Admin.SessionMinutes),
        });
        return Results.Redirect("/admin", permanent: false, preserveMethod: false);
    }

    private async Task<IResult> FormAsync(HttpContext context, Func<IFormCollection, AdminIdentity, Task<string?>> action, string? redirect = null)
    {
        var (status, identity, _) = await auth.AuthenticateAsync(context).ConfigureAwait(false);
        if (status == AdminAuthStatus.Forbidden) return Html(context, Layout("Forbidden", "<p>This account is not an administrator.</p>"), StatusCodes.Status403Forbidden);
        if (status != AdminAuthStatus.Ok || identity is null) return Results.Redirect("/admin/login");
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        if (!auth.CheckCsrf(identity, form["csrf"])) return Html(context, Layout("Forbidden", "<p>Missing or wrong CSRF token. Reload the page and try again.</p>"), StatusCodes.Status403Forbidden);
        string? message;
        try
        {
            message = await action(form, identity).ConfigureAwait(false);
        }
        catch (AdminException e)
        {
            message = e.Message;
        }
        catch (StorageException e)
        {
            message = "Storage error: " + e.Message;
        }
        var target = redirect ?? "/admin";
        if (message is not null) target += "?msg=" + Uri.EscapeDataString(message);
        return Results.Redirect(target);
    }

    private async Task<IResult> PageAsync(HttpContext context)
    {
        var (status, identity, _) = await auth.AuthenticateAsync(context).ConfigureAwait(false);
        if (status == AdminAuthStatus.Forbidden) return Html(context, Layout("Forbidden", "<p>This account is not an administrator.</p>"), StatusCodes.Status403Forbidden);
        if (status != AdminAuthStatus.Ok || identity is null) return Results.Redirect("/admin/login");
        var csrf = identity.Cookie is null ? "" : auth.CsrfToken(identity.Cookie);
        var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var b = new StringBuilder(8192);
        var message = context.Request.Query["msg"].ToString();
        b.Append("<p class=who>Signed in as <b>").Append(E(identity.Jid)).Append("</b> ").Append(Form("/admin/logout", csrf, "<button>Sign out</button>")).Append("</p>");
        if (message.Length > 0) b.Append("<p class=msg id=message>").Append(E(message)).Append("</p>");

        var stats = admin.Stats();
        b.Append("<section id=live><h2>Live</h2><table class=kv>");
        Row(b, "Domain", stats.Domain);
        Row(b, "Uptime", TimeSpan.FromSeconds(Math.Floor(stats.UptimeSeconds)).ToString("c", System.Globalization.CultureInfo.InvariantCulture), "live-uptime");
        Row(b, "Connections", stats.Connections.ToString(System.Globalization.CultureInfo.InvariantCulture), "live-connections");
        Row(b, "By transport", stats.ConnectionsByTransport.Count == 0 ? "-" : string.Join(", ", stats.ConnectionsByTransport.Select(p => $"{p.Key}: {p.Value}")), "live-transports");
        Row(b, "Sessions", stats.Sessions.ToString(System.Globalization.CultureInfo.InvariantCulture), "live-sessions");
        Row(b, "Stanzas in/s", stats.StanzasInPerSecond.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), "live-in-rate");
        Row(b, "Stanzas out/s", stats.StanzasOutPerSecond.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), "live-out-rate");
        Row(b, "Queued stanzas", stats.QueuedStanzas.ToString(System.Globalization.CultureInfo.InvariantCulture), "live-queued");
        b.Append("</table>").Append(Form("/admin/reload", csrf, "<button>Reload configuration</button>")).Append("</section>");

        var sessions = admin.ListSessions();
        b.Append("<section id=sessions><h2>Sessions (").Append(sessions.Count).Append(")</h2><table><tr><th>JID<th>Transport<th>Remote<th>TLS<th>Since<th>Available<th>Queue<th></tr>");
        foreach (var s in sessions)
        {
            b.Append("<tr><td class=jid>").Append(E(s.Jid)).Append("<td>").Append(E(s.Listener + "/" + s.Transport)).Append("<td>").Append(E(s.Remote))
                .Append("<td>").Append(s.Secure ? "yes" : "no").Append("<td>").Append(E(s.BoundAt.ToString("u", System.Globalization.CultureInfo.InvariantCulture)))
                .Append("<td>").Append(s.Available ? "yes" : "no").Append("<td>").Append(s.QueueDepth)
                .Append("<td>").Append(Form("/admin/sessions/kick", csrf, Hidden("jid", s.Jid) + "<button>Kick</button>")).Append("</tr>");
        }
        b.Append("</table></section>");

        var users = await admin.ListUsersAsync(context.RequestAborted).ConfigureAwait(false);
        b.Append("<section id=users><h2>Users (").Append(users.Count).Append(")</h2><table><tr><th>JID<th>New password<th></tr>");
        foreach (var u in users)
        {
            b.Append("<tr><td>").Append(E(u)).Append("<td>")
                .Append(Form("/admin/users/password", csrf, Hidden("user", u) + "<input type=password name=password required autocomplete=new-password> <button>Set</button>"))
                .Append("<td>").Append(Form("/admin/users/delete", csrf, Hidden("user", u) + "<button class=danger>Delete</button>")).Append("</tr>");
        }
        b.Append("</table><h3>Add a user</h3>")
            .Append(Form("/admin/users/add", csrf, "<input name=user placeholder=\"user@" + E(stats.Domain) + "\" required> <input type=password name=password placeholder=password required autocomplete=new-password> <button>Add</button>"))
            .Append("</section>");

        foreach (var section in admin.Sections)
        {
            var table = await section.GetTableAsync(context.RequestAborted).ConfigureAwait(false);
            b.Append("<section id=\"section-").Append(E(section.Id)).Append("\"><h2>").Append(E(section.Title)).Append("</h2><table><tr>");
            foreach (var column in table.Columns) b.Append("<th>").Append(E(column));
            var actions = section.RowActions;
            if (actions.Count > 0) b.Append("<th>");
            b.Append("</tr>");
            foreach (var row in table.Rows)
            {
                b.Append("<tr>");
                foreach (var cell in row) b.Append("<td>").Append(E(cell));
                if (actions.Count > 0 && row.Count > 0)
                {
                    b.Append("<td>");
                    foreach (var action in actions)
                    {
                        b.Append(Form("/admin/sections/" + Uri.EscapeDataString(section.Id) + "/" + Uri.EscapeDataString(action), csrf,
                            Hidden("row", row[0]) + "<button class=danger>" + E(char.ToUpperInvariant(action[0]) + action[1..]) + "</button>"));
                    }
                }
                b.Append("</tr>");
            }
            b.Append("</table>");
            if (table.Note is not null) b.Append("<p>").Append(E(table.Note)).Append("</p>");
            b.Append("</section>");
        }

        var errors = admin.RecentErrors();
        b.Append("<section id=errors><h2>Recent warnings and errors (").Append(errors.Count).Append(")</h2><table><tr><th>Time<th>Level<th>Category<th>Message</tr>");
        foreach (var e in errors.Take(50))
        {
            b.Append("<tr><td>").Append(E(e.Time.ToString("u", System.Globalization.CultureInfo.InvariantCulture))).Append("<td>").Append(E(e.Level.ToString()))
                .Append("<td>").Append(E(e.Category)).Append("<td>").Append(E(e.Message + (e.Exception is null ? "" : " — " + e.Exception))).Append("</tr>");
        }
        b.Append("</table></section>");
        b.Append("<script nonce=\"").Append(nonce).Append("\">").Append(RefreshScript).Append("</script>");
        return Html(context, Layout("Tendril admin", b.ToString()), StatusCodes.Status200OK);
    }

    private const string RefreshScript = """
        setInterval(async () => {
          try {
            const r = await fetch('/admin/api/stats', { credentials: 'same-origin' });
            if (!r.ok) return;
            const s = await r.json();
            const set = (id, v) => { const e = document.getElementById(id); if (e) e.textContent = v; };
            set('live-connections', s.connections); set('live-sessions', s.sessions);
            set('live-in-rate', s.stanzasInPerSecond); set('live-out-rate', s.stanzasOutPerSecond); set('live-queued', s.queuedStanzas);
            set('live-transports', Object.entries(s.connectionsByTransport).map(([k, v]) => k + ': ' + v).join(', ') || '-');
          } catch (e) { }
        }, 2000);
        """;

    private static void Row(StringBuilder b, string name, string value, string? id = null)
    {
        b.Append("<tr><th>").Append(E(name)).Append("<td");
        if (id is not null) b.Append(" id=").Append(id);
        b.Append('>').Append(E(value)).Append("</tr>");
    }

    private static string Form(string action, string csrf, string inner) =>
        $"<form method=post action=\"{action}\">{Hidden("csrf", csrf)}{inner}</form>";

    private static string Hidden(string name, string value) => $"<input type=hidden name={name} value=\"{E(value)}\">";

    private static string LoginForm(string? error) => Layout("Tendril admin — sign in",
        (error is null ? "" : $"<p class=msg id=message>{E(error)}</p>") +
        "<form method=post action=\"/admin/login\" class=login><label>Admin JID <input name=user required autocomplete=username></label>" +
        "<label>Password <input type=password name=password required autocomplete=current-password></label><button>Sign in</button></form>");

    private static string Layout(string title, string body) => $$"""
        <!doctype html>
        <html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
        <title>{{E(title)}}</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 70em; padding: 0 1em; color: #222; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.15em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
        table { border-collapse: collapse; } td, th { padding: .25em .6em; text-align: left; border-bottom: 1px solid #eee; vertical-align: top; }
        form { display: inline; } form.login { display: grid; gap: .6em; max-width: 22em; } .msg { background: #fff4c2; padding: .5em; }
        button.danger { color: #a00; } .who { float: right; }
        </style></head>
        <body><h1>{{E(title)}}</h1>
        {{body}}
        </body></html>
        """;

    private static IResult Html(HttpContext context, string html, int status)
    {
        var headers = context.Response.Headers;
        headers.CacheControl = "no-store";
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-" + ExtractNonce(html) + "'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    private static string ExtractNonce(string html)
    {
        const string marker = "<script nonce=\"";
        var at = html.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0) return "none";
        var start = at + marker.Length;
        return html[start..html.IndexOf('"', start)];
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
