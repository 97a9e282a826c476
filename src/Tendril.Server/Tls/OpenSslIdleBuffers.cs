using System.Net.Security;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Tendril.Server.Tls;

/// <summary>
/// Lets OpenSSL free a TLS connection's record buffers while the connection is idle (<c>SSL_MODE_RELEASE_BUFFERS</c>),
/// and frees the handshake-sized buffers of the connection's two memory BIOs once the handshake is done.
/// </summary>
/// <remarks>
/// On Linux, <see cref="SslStream"/> runs on OpenSSL, which by default keeps a ~17 KB read and a ~17 KB write buffer
/// allocated for the whole life of every connection — most of an idle XMPP session's memory (measured: ~36 KiB of
/// native memory per idle TLS session; see docs/benchmarks.md). With <c>SSL_MODE_RELEASE_BUFFERS</c> OpenSSL frees
/// them whenever they are empty and allocates them again for the next record, as nginx, Prosody (LuaSec) and
/// Python's ssl module do. .NET does not set the mode and has no API for it, so this reaches the connection's
/// <c>SSL*</c> through SslStream's private fields once the handshake is done. It is best effort: when the runtime's
/// internals differ (another .NET version, another TLS provider), nothing happens and TLS works as before.
/// <para>
/// SslStream moves bytes in and out of OpenSSL through two memory BIOs, whose <c>BUF_MEM</c> keeps the capacity of
/// the largest flight it ever held — for the server, its certificate flight (~1.7 KB) and the client's hello (~0.7 KB),
/// for the life of the connection (measured with <c>DOTNET_OPENSSL_MEMORY_DEBUG=1</c>: 2.35 KB of an idle connection's
/// ~16.6 KB of OpenSSL memory). Right after the handshake, when nothing else touches the connection and both BIOs are
/// empty, each gets a fresh empty <c>BUF_MEM</c> (<c>BIO_set_mem_buf</c>, which frees the old one); later records grow
/// it only to their own size. The same is done again each time a connection has been quiet for a few seconds
/// (<see cref="TrimIdle"/>, under the lock SslStream holds while it encrypts or decrypts).
/// </para>
/// </remarks>
internal static class OpenSslIdleBuffers
{
    private const int SslCtrlMode = 33;             // SSL_CTRL_MODE
    private const long SslModeReleaseBuffers = 0x10; // SSL_MODE_RELEASE_BUFFERS

    private static readonly FieldInfo? s_securityContext =
        OperatingSystem.IsLinux() ? typeof(SslStream).GetField("_securityContext", BindingFlags.Instance | BindingFlags.NonPublic) : null;

    private const int BioCtrlPending = 10;    // BIO_CTRL_PENDING
    private const int BioCtrlWPending = 13;   // BIO_CTRL_WPENDING
    private const int BioCSetBufMem = 114;    // BIO_C_SET_BUF_MEM
    private const int BioClose = 1;           // BIO_CLOSE
    private const int BioTypeMem = 1 | 0x0400; // BIO_TYPE_MEM

    private static FieldInfo? s_sslHandle;
    private static SslCtrl? s_sslCtrl;
    private static BioFunctions? s_bio;
    private static int s_disabled;
    private static int s_bioDisabled;

    /// <summary>True once the mode was set on at least one connection (for tests and diagnostics).</summary>
    public static bool Works { get; private set; }

    /// <summary>Sets SSL_MODE_RELEASE_BUFFERS on an authenticated stream's OpenSSL connection; false when not possible.</summary>
    public static bool TryEnable(SslStream stream)
    {
        if (s_securityContext is null || Volatile.Read(ref s_disabled) != 0) return false;
        try
        {
            if (SslHandleOf(stream) is not { } handle || !Use(handle, static ssl =>
                {
                    if ((s_sslCtrl ??= LoadSslCtrl()) is not { } sslCtrl) return false;
                    sslCtrl(ssl, SslCtrlMode, (nint)SslModeReleaseBuffers, 0);
                    // Just after the handshake nothing else uses the connection: no lock needed.
                    TrimBioBuffers(ssl);
                    return true;
                }))
            {
                return false;
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

    private static readonly Func<SslStream, object>? s_handshakeLock = HandshakeLockGetter();
    private static readonly FieldInfo? s_handshakeWaiter =
        OperatingSystem.IsLinux() ? typeof(SslStream).GetField("_handshakeWaiter", BindingFlags.Instance | BindingFlags.NonPublic) : null;

    /// <summary>
    /// Trims the memory BIOs of an established connection that has been quiet. SslStream encrypts and decrypts under
    /// one lock (its <c>_handshakeLock</c>, taken around every SSL_write/BIO_read and BIO_write/SSL_read pair); this
    /// takes the same lock, without waiting — a connection busy right now is not idle — and leaves the connection
    /// alone while a re-handshake is pending. Nothing happens when the runtime's internals differ.
    /// </summary>
    public static void TrimIdle(SslStream stream)
    {
        if (s_handshakeLock is null || s_handshakeWaiter is null || Volatile.Read(ref s_disabled) != 0 || Volatile.Read(ref s_bioDisabled) != 0) return;
        try
        {
            var gate = s_handshakeLock(stream);
            if (!Monitor.TryEnter(gate)) return;
            try
            {
                if (s_handshakeWaiter.GetValue(stream) is null && SslHandleOf(stream) is { } handle) Use(handle, static ssl =>
                {
                    TrimBioBuffers(ssl);
                    return true;
                });
            }
            finally
            {
                Monitor.Exit(gate);
            }
        }
        catch (ObjectDisposedException)
        {
            // closed meanwhile: nothing to trim
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or FieldAccessException or ArgumentException)
        {
            Volatile.Write(ref s_bioDisabled, 1);
        }
    }

    private static Func<SslStream, object>? HandshakeLockGetter()
    {
        if (!OperatingSystem.IsLinux()) return null;
        var getter = typeof(SslStream).GetProperty("_handshakeLock", BindingFlags.Instance | BindingFlags.NonPublic)?.GetMethod;
        if (getter is null || getter.ReturnType != typeof(object)) return null;
        try
        {
            return getter.CreateDelegate<Func<SslStream, object>>();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Runs <paramref name="use"/> on the SSL* while holding a reference, so the SslStream cannot free it meanwhile.</summary>
    private static bool Use(SafeHandle handle, Func<nint, bool> use)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return use(handle.DangerousGetHandle());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>The authenticated stream's SSL* handle, or null.</summary>
    private static SafeHandle? SslHandleOf(SslStream stream)
    {
        if (s_securityContext?.GetValue(stream) is not { } context) return null;
        // .NET 9+: the context is itself the SafeSslHandle (SSL*); .NET 8: it holds one in a field.
        var handle = context.GetType().Name == "SafeSslHandle" ? context as SafeHandle
            : (s_sslHandle ??= FindSslHandleField(context.GetType()))?.GetValue(context) as SafeHandle;
        return handle is null || handle.IsInvalid || handle.IsClosed ? null : handle;
    }

    /// <summary>Frees the buffers of the connection's memory BIOs when they are empty (see remarks). Never throws.</summary>
    private static void TrimBioBuffers(nint ssl)
    {
        if (Volatile.Read(ref s_bioDisabled) != 0) return;
        var bio = s_bio ??= BioFunctions.Load();
        if (bio is null)
        {
            Volatile.Write(ref s_bioDisabled, 1);
            return;
        }
        Trim(bio, bio.GetRbio(ssl));
        Trim(bio, bio.GetWbio(ssl));

        static void Trim(BioFunctions f, nint b)
        {
            // Only a plain memory BIO with nothing in it: anything else is left exactly as it is.
            if (b == 0 || f.MethodType(b) != BioTypeMem) return;
            if (f.Ctrl(b, BioCtrlPending, 0, 0) != 0 || f.Ctrl(b, BioCtrlWPending, 0, 0) != 0) return;
            var fresh = f.BufMemNew();
            if (fresh == 0) return;
            f.Ctrl(b, BioCSetBufMem, BioClose, fresh);
            Interlocked.Increment(ref s_bioTrims);
        }
    }

    /// <summary>How many memory BIO buffers have been replaced so far (for tests and diagnostics).</summary>
    public static long BioTrims => Interlocked.Read(ref s_bioTrims);

    private static long s_bioTrims;

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
        if (LoadedLibrary("/libssl.so") is not { } library || !NativeLibrary.TryGetExport(library, "SSL_ctrl", out var export))
        {
            Volatile.Write(ref s_disabled, 1);
            return null;
        }
        return Marshal.GetDelegateForFunctionPointer<SslCtrl>(export);
    }

    /// <summary>A library the runtime already loaded (its path in /proc/self/maps), or null.</summary>
    private static nint? LoadedLibrary(string name)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0 && line.AsSpan(slash).Contains(name, StringComparison.Ordinal))
                {
                    return NativeLibrary.TryLoad(line[slash..], out var library) ? library : null;
                }
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>The BIO calls of the libssl/libcrypto the runtime loaded.</summary>
    private sealed class BioFunctions
    {
        public required PointerToPointer GetRbio { get; init; }
        public required PointerToPointer GetWbio { get; init; }
        public required PointerToInt MethodType { get; init; }
        public required BioCtrl Ctrl { get; init; }
        public required NewPointer BufMemNew { get; init; }

        public static BioFunctions? Load()
        {
            if (LoadedLibrary("/libssl.so") is not { } ssl || LoadedLibrary("/libcrypto.so") is not { } crypto) return null;
            if (!NativeLibrary.TryGetExport(ssl, "SSL_get_rbio", out var rbio) || !NativeLibrary.TryGetExport(ssl, "SSL_get_wbio", out var wbio)
                || !NativeLibrary.TryGetExport(crypto, "BIO_method_type", out var type) || !NativeLibrary.TryGetExport(crypto, "BIO_ctrl", out var ctrl)
                || !NativeLibrary.TryGetExport(crypto, "BUF_MEM_new", out var bufMemNew))
            {
                return null;
            }
            return new BioFunctions
            {
                GetRbio = Marshal.GetDelegateForFunctionPointer<PointerToPointer>(rbio),
                GetWbio = Marshal.GetDelegateForFunctionPointer<PointerToPointer>(wbio),
                MethodType = Marshal.GetDelegateForFunctionPointer<PointerToInt>(type),
                Ctrl = Marshal.GetDelegateForFunctionPointer<BioCtrl>(ctrl),
                BufMemNew = Marshal.GetDelegateForFunctionPointer<NewPointer>(bufMemNew),
            };
        }
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint PointerToPointer(nint p);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int PointerToInt(nint p);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint BioCtrl(nint bio, int cmd, nint larg, nint parg); // long is pointer-sized on LP64 Linux

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint NewPointer();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint SslCtrl(nint ssl, int cmd, nint larg, nint parg);
}
