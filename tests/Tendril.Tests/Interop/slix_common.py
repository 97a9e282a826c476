"""What the slixmpp interop scripts share: the command line (HOST PORT ...), quiet logging, a client that accepts
the test server's self-signed certificate and records what it observed (events with waiters, a ready future), connecting
with STARTTLS or direct TLS, polling, and the main wrapper that reports a failure as one JSON line and exit 1 instead of
hanging. The scripts import it from their own folder (Python puts a script's folder first on sys.path).
"""
import asyncio, json, logging, ssl, sys
import slixmpp

logging.basicConfig(level=logging.WARNING)


def args(count):
    """HOST, PORT and the next `count` command-line arguments."""
    if len(sys.argv) < 3 + count:
        sys.exit("usage: %s HOST PORT and %d more arguments" % (sys.argv[0], count))
    return sys.argv[1], int(sys.argv[2]), sys.argv[3:3 + count]


class Client(slixmpp.ClientXMPP):
    """A slixmpp client for the test server: certificate not checked, plugins registered, events recorded."""

    def __init__(self, jid, password, plugins=(), **kwargs):
        super().__init__(jid, password, **kwargs)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        for plugin in plugins:
            self.register_plugin(plugin)
        self.events, self.waiters = [], []
        self.ready = asyncio.get_event_loop().create_future()

    def set_ready(self):
        if not self.ready.done():
            self.ready.set_result(True)

    def record(self, event):
        """Keeps an observation (a dict) and wakes whoever waits for one like it."""
        self.events.append(event)
        for pred, fut in list(self.waiters):
            if not fut.done() and pred(event):
                fut.set_result(event)

    async def wait(self, pred, timeout=20):
        """The first recorded event matching `pred`, already seen or still to come."""
        for e in self.events:
            if pred(e):
                return e
        fut = asyncio.get_event_loop().create_future()
        self.waiters.append((pred, fut))
        return await asyncio.wait_for(fut, timeout)


def connect(client, host, port, direct_tls=False):
    if direct_tls:
        client.connect((host, port), disable_starttls=True, force_starttls=False, use_ssl=True)
    else:
        client.connect((host, port), force_starttls=True)


async def until(check, timeout=10):
    """Polls `check` until it holds (True) or the timeout passes (False)."""
    for _ in range(int(timeout / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


def run(main):
    """Runs the script's main coroutine; any failure is printed as {"error": ...} with exit code 1."""
    try:
        asyncio.get_event_loop().run_until_complete(main())
    except Exception as e:  # report, don't hang
        print(json.dumps({"error": repr(e)}), flush=True)
        sys.exit(1)
