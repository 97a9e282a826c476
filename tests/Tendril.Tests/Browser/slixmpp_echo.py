#!/usr/bin/python3
"""A python3-slixmpp peer for the converse.js browser test: logs in (STARTTLS), prints "READY <jid>", then answers
each chat message with "pong: <body>" and prints one JSON line per message received. Exits after COUNT messages.

Usage: slixmpp_echo.py HOST PORT JID PASSWORD COUNT
"""
import asyncio, json, os, sys
sys.dont_write_bytecode = True  # imported from the source tree: leave no __pycache__ there
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Interop"))  # the shared slix_common
import slix_common
from slix_common import args, run

host, port, (jid, password, count) = args(3)
count = int(count)


class Echo(slix_common.Client):
    def __init__(self):
        super().__init__(jid, password)
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
    slix_common.connect(client, host, port)
    await asyncio.wait_for(client.done, 180)
    await asyncio.sleep(0.5)  # let the last reply go out
    client.disconnect()
    await asyncio.sleep(0.2)


run(main)
