#!/usr/bin/python3
"""XEP-0198 across cluster nodes with slixmpp: A enables stream management with resumption on node 1, B (on node 2)
sends it a message, A's TCP connection is aborted (no </stream:stream>), B sends two more (they wait in the
hibernating session on node 1), and A reconnects to node 2 — as a client behind a load balancer would. Node 2 cannot
resume a session held by node 1: A gets <failed/>, binds anew, and must then get the two messages promptly (node 1
ends the abandoned session at once instead of at the resume timeout, storing them offline for the new session).

Usage: slixmpp_resume_elsewhere.py HOST PORT1 PORT2 JID1 PASS1 JID2 PASS2
Prints one JSON line; exit 0 on success.
"""
import asyncio, json, time
import slix_common
from slix_common import args, run

host, port1, (port2, jid1, pw1, jid2, pw2) = args(5)
port2 = int(port2)


class Peer(slix_common.Client):
    def __init__(self, jid, password, sm):
        super().__init__(jid, password, plugins=("xep_0198",) if sm else ())
        self.bound_jid, self.starts = None, 0
        loop = asyncio.get_event_loop()
        self.enabled = loop.create_future()
        self.failed = loop.create_future()
        self.dropped = loop.create_future()
        self.restarted = loop.create_future()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("sm_enabled", lambda *_: self.enabled.done() or self.enabled.set_result(True))
        self.add_event_handler("sm_failed", lambda *_: self.failed.done() or self.failed.set_result(True))
        self.add_event_handler("session_resumed", lambda *_: self.failed.done() or self.failed.set_exception(RuntimeError("resumed on the wrong node?")))
        self.add_event_handler("disconnected", lambda *_: self.dropped.done() or self.dropped.set_result(True))

    async def on_start(self, _):
        self.starts += 1
        self.bound_jid = str(self.boundjid)
        self.send_presence()
        self.set_ready()
        if self.starts == 2 and not self.restarted.done():
            self.restarted.set_result(self.bound_jid)

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["body"]:
            self.record({"from": str(msg["from"]), "body": msg["body"], "delayed": msg.xml.find("{urn:xmpp:delay}delay") is not None})


async def main():
    a = Peer(jid1, pw1, sm=True)
    b = Peer(jid2, pw2, sm=False)
    slix_common.connect(a, host, port1)
    slix_common.connect(b, host, port2)
    await asyncio.wait_for(asyncio.gather(a.ready, b.ready, a.enabled), 20)
    first_jid = a.bound_jid
    b.send_message(mto=first_jid, mbody="before the drop", mtype="chat")
    await a.wait(lambda e: e["body"] == "before the drop")

    a.abort()  # the TCP connection dies without a closing tag: node 1 keeps the session for resumption
    await asyncio.wait_for(a.dropped, 20)
    b.send_message(mto=first_jid, mbody="while dropped 1", mtype="chat")
    b.send_message(mto=first_jid, mbody="while dropped 2", mtype="chat")
    await asyncio.sleep(0.5)

    slix_common.connect(a, host, port2)  # the other node
    await asyncio.wait_for(a.failed, 20)
    second_jid = await asyncio.wait_for(a.restarted, 20)
    started = time.monotonic()
    await a.wait(lambda e: e["body"] == "while dropped 1", timeout=20)
    await a.wait(lambda e: e["body"] == "while dropped 2", timeout=20)
    waited = time.monotonic() - started
    bodies = [e["body"] for e in a.events]
    result = {"first_jid": first_jid, "second_jid": second_jid, "received": a.events, "waited": waited,
              "in_order": bodies.index("while dropped 1") < bodies.index("while dropped 2")}
    print(json.dumps(result), flush=True)
    for p in (a, b):
        p.disconnect()
    await asyncio.sleep(0.2)


run(main)
