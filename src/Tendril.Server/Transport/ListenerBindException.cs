using System.Net;
using System.Net.Sockets;

namespace Tendril.Server.Transport;

/// <summary>
/// A listener could not bind or listen. The message names the listener, the address and port, the reason in words and
/// the setting to change — meant to be shown to the operator as is, without a stack trace (<c>tendril serve</c> exits
/// with 1).
/// </summary>
public sealed class ListenerBindException : IOException
{
    public ListenerBindException(string listener, IPEndPoint endPoint, SocketError error, string portSetting, string addressSetting, Exception? inner = null)
        : base(Describe(listener, endPoint.ToString(), error, portSetting, addressSetting), inner)
    {
        Listener = listener;
        EndPoint = endPoint;
        Error = error;
    }

    public string Listener { get; }

    public IPEndPoint EndPoint { get; }

    public SocketError Error { get; }

    /// <summary>The operator's message for a listener that cannot bind (also used for the HTTP listeners, bound by Kestrel).</summary>
    public static string Describe(string listener, string endPoint, SocketError error, string portSetting, string addressSetting) => error switch
    {
        SocketError.AddressAlreadyInUse =>
            $"the {listener} listener cannot listen on {endPoint}: the address is already in use (another process, perhaps another Tendril, holds the port). Stop it, or set another port in {portSetting}.",
        SocketError.AccessDenied =>
            $"the {listener} listener cannot listen on {endPoint}: permission denied (ports below 1024 need privileges). Set a port of 1024 or above in {portSetting}, or grant the process CAP_NET_BIND_SERVICE.",
        SocketError.AddressNotAvailable =>
            $"the {listener} listener cannot listen on {endPoint}: the address is not one of this host's. Change {addressSetting}.",
        _ =>
            $"the {listener} listener cannot listen on {endPoint}: {error}. Check {addressSetting} and {portSetting}.",
    };
}
