#!/usr/bin/python3
"""XEP-0198 with slixmpp: A enables stream management with resumption, B sends it a message, A's TCP connection is
aborted (no </stream:stream>), B sends two more, A reconnects and resumes; A must get every message, under the same
full JID, and its session must still work (a message back to B).

Usage: slixmpp_resume.py HOST PORT JID1 PASS1 JID2 PASS2
Prints one JSON line; exit 0 on success.
"""
import asyncio, json
import slix_common
from slix_common import args, run

host, port, (jid1, pw1, jid2, pw2) = args(4)


class Peer(slix_common.Client):
    def __init__(self, jid, password, sm):
        super().__init__(jid, password, plugins=("xep_0198",) if sm else ())
        self.received, self.bound_jid = [], None
        loop = asyncio.get_event_loop()
        self.enabled = loop.create_future()
        self.resumed = loop.create_future()
        self.dropped = loop.create_future()
        self.body_waiters = []
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("sm_enabled", lambda *_: self.enabled.done() or self.enabled.set_result(True))
        self.add_event_handler("session_resumed", lambda *_: self.resumed.done() or self.resumed.set_result(str(self.boundjid)))
        self.add_event_handler("sm_failed", lambda *_: self.resumed.done() or self.resumed.set_exception(RuntimeError("resume failed")))
        self.add_event_handler("disconnected", lambda *_: self.dropped.done() or self.dropped.set_result(True))

    async def on_start(self, _):
        self.bound_jid = str(self.boundjid)
        self.send_presence()
        self.set_ready()

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["body"]:
            self.received.append({"from": str(msg["from"]), "body": msg["body"]})
            for body, fut in list(self.body_waiters):
                if body == msg["body"] and not fut.done():
                    fut.set_result(True)

    def wait_body(self, body):
        if any(m["body"] == body for m in self.received):
            f = asyncio.get_event_loop().create_future()
            f.set_result(True)
            return f
        f = asyncio.get_event_loop().create_future()
        self.body_waiters.append((body, f))
        return f


async def main():
    a = Peer(jid1, pw1, sm=True)
    b = Peer(jid2, pw2, sm=False)
    for p in (a, b):
        slix_common.connect(p, host, port)
    await asyncio.wait_for(asyncio.gather(a.ready, b.ready, a.enabled), 20)
    first_jid = a.bound_jid
    b.send_message(mto=first_jid, mbody="before the drop", mtype="chat")
    await asyncio.wait_for(a.wait_body("before the drop"), 20)

    a.abort()  # the TCP connection dies without a closing tag
    await asyncio.wait_for(a.dropped, 20)
    b.send_message(mto=first_jid, mbody="while dropped 1", mtype="chat")
    b.send_message(mto=first_jid, mbody="while dropped 2", mtype="chat")
    await asyncio.sleep(0.5)

    slix_common.connect(a, host, port)
    resumed_jid = await asyncio.wait_for(a.resumed, 20)
    await asyncio.wait_for(asyncio.gather(a.wait_body("while dropped 1"), a.wait_body("while dropped 2")), 20)
    a.send_message(mto=b.bound_jid, mbody="back again", mtype="chat")
    await asyncio.wait_for(b.wait_body("back again"), 20)
    result = {"first_jid": first_jid, "resumed_jid": resumed_jid, "a_received": a.received,
              "b_received": b.received}
    print(json.dumps(result), flush=True)
    for p in (a, b):
        p.disconnect()
    await asyncio.sleep(0.2)


run(main)
