using System.Net.Security;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Tendril.Server.Tls;

/// <summary>
/// Lets OpenSSL free a TLS connection's record buffers while the connection is idle (<c>SSL_MODE_RELEASE_BUFFERS</c>).
/// </summary>
/// <remarks>
/// On Linux, <see cref="SslStream"/> runs on OpenSSL, which by default keeps a ~17 KB read and a ~17 KB write buffer
/// allocated for the whole life of every connection — most of an idle XMPP session's memory (measured: ~36 KiB of
/// native memory per idle TLS session; see docs/benchmarks.md). With <c>SSL_MODE_RELEASE_BUFFERS</c> OpenSSL frees
/// them whenever they are empty and allocates them again for the next record, as nginx, Prosody (LuaSec) and
/// Python's ssl module do. .NET does not set the mode and has no API for it, so this reaches the connection's
/// <c>SSL*</c> through SslStream's private fields once the handshake is done. It is best effort: when the runtime's
/// internals differ (another .NET version, another TLS provider), nothing happens and TLS works as before.
/// </remarks>
internal static class OpenSslIdleBuffers
{
    private const int SslCtrlMode = 33;             // SSL_CTRL_MODE
    private const long SslModeReleaseBuffers = 0x10; // SSL_MODE_RELEASE_BUFFERS

    private static readonly FieldInfo? s_securityContext =
        OperatingSystem.IsLinux() ? typeof(SslStream).GetField("_securityContext", BindingFlags.Instance | BindingFlags.NonPublic) : null;

    private static FieldInfo? s_sslHandle;
    private static SslCtrl? s_sslCtrl;
    private static int s_disabled;

    /// <summary>True once the mode was set on at least one connection (for tests and diagnostics).</summary>
    public static bool Works { get; private set; }

    /// <summary>Sets SSL_MODE_RELEASE_BUFFERS on an authenticated stream's OpenSSL connection; false when not possible.</summary>
    public static bool TryEnable(SslStream stream)
    {
        if (s_securityContext is null || Volatile.Read(ref s_disabled) != 0) return false;
        try
        {
            if (s_securityContext.GetValue(stream) is not { } context) return false;
            // .NET 9+: the context is itself the SafeSslHandle (SSL*); .NET 8: it holds one in a field.
            var handle = context.GetType().Name == "SafeSslHandle" ? context as SafeHandle
                : (s_sslHandle ??= FindSslHandleField(context.GetType()))?.GetValue(context) as SafeHandle;
            if (handle is null || handle.IsInvalid || handle.IsClosed) return false;
            var added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                var sslCtrl = s_sslCtrl ??= LoadSslCtrl();
                if (sslCtrl is null) return false;
                sslCtrl(handle.DangerousGetHandle(), SslCtrlMode, (nint)SslModeReleaseBuffers, 0);
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
            Works = true;
            return true;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or FieldAccessException or ArgumentException or ObjectDisposedException)
        {
            Volatile.Write(ref s_disabled, 1);
            return false;
        }
    }

    /// <summary>The SafeSslHandle field of the runtime's SafeDeleteSslContext (named _sslContext in .NET 8).</summary>
    private static FieldInfo? FindSslHandleField(Type contextType)
    {
        for (var type = contextType; type is not null; type = type.BaseType)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly))
            {
                if (typeof(SafeHandle).IsAssignableFrom(field.FieldType) && field.FieldType.Name == "SafeSslHandle") return field;
            }
        }
        Volatile.Write(ref s_disabled, 1);
        return null;
    }

    /// <summary>
    /// SSL_ctrl of the libssl the runtime itself loaded (found in /proc/self/maps, so never another version's).
    /// </summary>
    private static SslCtrl? LoadSslCtrl()
    {
        string? path = null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0 && line.AsSpan(slash).Contains("/libssl.so", StringComparison.Ordinal))
                {
                    path = line[slash..];
                    break;
                }
            }
        }
        catch (IOException)
        {
        }
        if (path is null || !NativeLibrary.TryLoad(path, out var library) || !NativeLibrary.TryGetExport(library, "SSL_ctrl", out var export))
        {
            Volatile.Write(ref s_disabled, 1);
            return null;
        }
        return Marshal.GetDelegateForFunctionPointer<SslCtrl>(export);
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint SslCtrl(nint ssl, int cmd, nint larg, nint parg);
}
