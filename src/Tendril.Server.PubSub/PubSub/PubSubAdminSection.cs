using System.Globalization;
using Tendril.Server.Admin;

namespace Tendril.Server.Features.PubSub;

/// <summary>The pubsub nodes of every service, for the admin page (shown only when the pubsub feature runs a service).</summary>
internal sealed class PubSubAdminSection(PubSubFeature feature) : IAdminSection
{
    public string Id => "pubsub";

    public string Title => "Pubsub nodes";

    public async ValueTask<AdminTable> GetTableAsync(CancellationToken cancellationToken)
    {
        var rows = new List<IReadOnlyList<string>>();
        foreach (var service in feature.Services.Values.OrderBy(s => s.JidString, StringComparer.Ordinal))
        {
            await service.EnsureLoadedAsync(cancellationToken).ConfigureAwait(false);
            foreach (var node in service.Nodes.Where(n => !n.Deleted).OrderBy(n => n.Id, StringComparer.Ordinal))
            {
                rows.Add([
                    service.JidString, node.Id, node.Creator, node.Config.AccessModel.ToString().ToLowerInvariant(),
                    node.Subscriptions.Count(s => s.IsActive).ToString(CultureInfo.InvariantCulture),
                    node.LastItem?.Id ?? "-",
                ]);
            }
        }
        return new AdminTable(["Service", "Node", "Creator", "Access", "Subscribers", "Last item"], rows);
    }
}
