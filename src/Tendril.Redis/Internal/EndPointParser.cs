using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tendril.Redis.Internal;

internal static class EndPointParser
{
    /// <summary><c>/path/to/socket</c>, <c>host:port</c>, <c>1.2.3.4:port</c> or <c>[::1]:port</c> (port defaults to 6379).</summary>
    public static EndPoint Parse(string text)
    {
        if (text.StartsWith('/')) return new UnixDomainSocketEndPoint(text);
        string host = text;
        string? port = null;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) throw new ArgumentException($"Invalid Redis endpoint '{text}'.");
            host = text[1..close];
            if (close + 1 < text.Length)
            {
                if (text[close + 1] != ':') throw new ArgumentException($"Invalid Redis endpoint '{text}'.");
                port = text[(close + 2)..];
            }
        }
        else if (text.Count(c => c == ':') == 1)
        {
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            host = text[..colon];
            port = text[(colon + 1)..];
        }
        int portNumber = 6379;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out portNumber) || portNumber is < 1 or > 65535))
            throw new ArgumentException($"Invalid port in Redis endpoint '{text}'.");
        if (host.Length == 0) throw new ArgumentException($"Missing host in Redis endpoint '{text}'.");
        return IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, portNumber) : new DnsEndPoint(host, portNumber);
    }
}
