using System.Globalization;
using Tendril.Server.Admin;

namespace Tendril.Server.Features.Muc;

/// <summary>
/// The rooms of the group chat service on the admin page and at <c>/admin/api/sections/muc</c>: every stored room and
/// every temporary one, with occupants and the main settings; "destroy" ends a room (its occupants are told).
/// </summary>
internal sealed class MucAdminSection(MucService service) : IAdminSection
{
    private const int Shown = 1000;

    public string Id => "muc";

    public string Title => "Group chat rooms";

    public IReadOnlyList<string> RowActions => ["destroy"];

    public async ValueTask<AdminTable> GetTableAsync(CancellationToken cancellationToken)
    {
        var stored = await service.Server.Storage.Muc.ListRoomsAsync(service.JidString, null, Shown, publicOnly: false, cancellationToken).ConfigureAwait(false);
        var titles = stored.Rooms.ToDictionary(r => r.Name, r => r.Title, StringComparer.Ordinal);
        var names = new SortedSet<string>(titles.Keys, StringComparer.Ordinal);
        foreach (var room in service.Rooms) names.Add(room.Name);
        var rows = new List<IReadOnlyList<string>>();
        foreach (var name in names.Take(Shown))
        {
            if (!service.TryGetRoom(name, out var room))
            {
                rows.Add([$"{name}@{service.JidString}", titles[name] ?? "", "0", "yes", "(not loaded)", "", "", ""]);
                continue;
            }
            var config = room.Config;
            rows.Add([
                room.JidString, config.Name, room.OccupantCount.ToString(CultureInfo.InvariantCulture), config.Persistent ? "yes" : "no",
                config.Public ? "public" : "hidden", config.MembersOnly ? "members only" : "open", config.Password is null ? "" : "password", room.Subject ?? "",
            ]);
        }
        var note = stored.Total > Shown ? $"{stored.Total} stored rooms; the first {Shown} shown." : null;
        return new AdminTable(["Room", "Name", "Occupants", "Persistent", "Listed", "Entry", "Password", "Subject"], rows, note);
    }

    public async ValueTask<string> RunRowActionAsync(string action, string row, string by, CancellationToken cancellationToken)
    {
        var name = row.EndsWith("@" + service.JidString, StringComparison.Ordinal) ? row[..^(service.JidString.Length + 1)] : row;
        var room = await service.FindAsync(name).ConfigureAwait(false) ?? throw new AdminException(404, $"No room '{row}'.");
        await room.DestroyByOperatorAsync($"Destroyed by the server's administrator {by}.").ConfigureAwait(false);
        return $"Destroyed the room {room.JidString}.";
    }
}
