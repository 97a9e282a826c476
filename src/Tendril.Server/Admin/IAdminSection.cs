namespace Tendril.Server.Admin;

/// <summary>
/// A section of the admin page and API contributed by a feature (e.g. pubsub nodes). A server feature that implements
/// this interface is picked up automatically; other services register with
/// <c>services.AddSingleton&lt;IAdminSection, T&gt;()</c>. Shown on the page as a table and served as JSON at
/// <c>/admin/api/sections/{Id}</c>.
/// </summary>
public interface IAdminSection
{
    /// <summary>URL-safe identifier ("pubsub").</summary>
    string Id { get; }

    /// <summary>Heading on the page ("Pubsub nodes").</summary>
    string Title { get; }

    ValueTask<AdminTable> GetTableAsync(CancellationToken cancellationToken);

    /// <summary>
    /// What an admin may do to a row (its key is the row's first cell): a button per action on the page, and
    /// <c>POST /admin/api/sections/{Id}/{action}</c> with <c>{"row": key}</c> (e.g. "destroy" a group chat room).
    /// </summary>
    IReadOnlyList<string> RowActions => [];

    /// <summary>Runs <paramref name="action"/> on the row <paramref name="row"/> for admin <paramref name="by"/>; returns what was done (or throws <see cref="AdminException"/>).</summary>
    ValueTask<string> RunRowActionAsync(string action, string row, string by, CancellationToken cancellationToken) =>
        throw new AdminException(404, $"The section '{Id}' has no action '{action}'.");
}

/// <summary>A table of plain text cells (the page escapes them).</summary>
public sealed record AdminTable(IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, string? Note = null);

/// <summary>A feature that adds sections to the admin page only in some configurations (pubsub: when it runs a service).</summary>
public interface IAdminSectionProvider
{
    IEnumerable<IAdminSection> AdminSections { get; }
}
