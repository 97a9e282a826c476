#!/usr/bin/python3
"""Two slixmpp clients log in (STARTTLS + SCRAM), bind, and exchange messages both ways.

Usage: slixmpp_chat.py HOST PORT JID1 PASS1 JID2 PASS2 MECHANISM [--direct-tls]
Prints one JSON line with what each client received; exit 0 when both got the other's message.
"""
import asyncio, json, sys
import slix_common
from slix_common import args, run

host, port, (jid1, pw1, jid2, pw2, mech) = args(5)
direct_tls = "--direct-tls" in sys.argv


class Peer(slix_common.Client):
    def __init__(self, jid, password, peer_bare, text):
        super().__init__(jid, password, sasl_mech=mech)
        self.peer_bare, self.text = peer_bare, text
        self.received, self.bound_jid, self.mechanism = [], None, None
        self.got = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("failed_auth", lambda *_: self.ready.done() or self.ready.set_exception(RuntimeError("auth failed")))
        self.add_event_handler("auth_success", self.on_auth)

    def on_auth(self, *_):
        mech_plugin = self.plugin["feature_mechanisms"]
        self.mechanism = getattr(getattr(mech_plugin, "mech", None), "name", None)

    async def on_start(self, _):
        self.bound_jid = str(self.boundjid)
        self.send_presence()
        self.set_ready()

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal"):
            self.received.append({"from": str(msg["from"]), "body": msg["body"]})
            if not self.got.done():
                self.got.set_result(True)


async def main():
    a = Peer(jid1, pw1, jid2, "hello from 1")
    b = Peer(jid2, pw2, jid1, "hello from 2")
    for p in (a, b):
        slix_common.connect(p, host, port, direct_tls)
    await asyncio.wait_for(asyncio.gather(a.ready, b.ready), 20)
    a.send_message(mto=b.bound_jid, mbody="hello from 1", mtype="chat")
    await asyncio.wait_for(b.got, 20)
    b.send_message(mto=a.bound_jid, mbody="hello from 2", mtype="chat")
    await asyncio.wait_for(a.got, 20)
    result = {
        "a": {"jid": a.bound_jid, "mechanism": a.mechanism, "received": a.received},
        "b": {"jid": b.bound_jid, "mechanism": b.mechanism, "received": b.received},
    }
    print(json.dumps(result), flush=True)
    for p in (a, b):
        p.disconnect()
    await asyncio.sleep(0.2)


run(main)
