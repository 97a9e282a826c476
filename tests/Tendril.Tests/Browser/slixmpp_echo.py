#!/usr/bin/python3
"""A python3-slixmpp peer for the converse.js browser test: logs in (STARTTLS), prints "READY <jid>", then answers
each chat message with "pong: <body>" and prints one JSON line per message received. Exits after COUNT messages.

Usage: slixmpp_echo.py HOST PORT JID PASSWORD COUNT
"""
import asyncio, json, ssl, sys, logging
import slixmpp

host, port, jid, password, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
logging.basicConfig(level=logging.WARNING)


class Echo(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(jid, password)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.seen = 0
        self.done = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("failed_auth", lambda *_: self.done.done() or self.done.set_exception(RuntimeError("auth failed")))

    async def on_start(self, _):
        self.send_presence()
        print("READY " + str(self.boundjid), flush=True)

    def on_message(self, msg):
        if msg["type"] not in ("chat", "normal") or not msg["body"]:
            return
        print(json.dumps({"from": str(msg["from"]), "body": msg["body"]}), flush=True)
        self.send_message(mto=msg["from"], mbody="pong: " + msg["body"], mtype="chat")
        self.seen += 1
        if self.seen >= count and not self.done.done():
            self.done.set_result(True)


async def main():
    client = Echo()
    client.connect((host, port), force_starttls=True)
    await asyncio.wait_for(client.done, 180)
    await asyncio.sleep(0.5)  # let the last reply go out
    client.disconnect()
    await asyncio.sleep(0.2)


try:
    asyncio.get_event_loop().run_until_complete(main())
except Exception as e:  # report, don't hang
    print(json.dumps({"error": repr(e)}), flush=True)
    sys.exit(1)
