#!/usr/bin/python3
"""Message archive management (XEP-0313) with slixmpp's xep_0313 plugin: B sends A five messages, A answers once;
then A pages through its archive with RSM (two per page), forwards and backwards, filtered by B's JID, and B
pages through its own archive.

Usage: slixmpp_mam.py HOST PORT JID_A PASS_A JID_B PASS_B
Prints one JSON line with what the clients observed; exit 0 when every step completed.
"""
import asyncio, json
import slixmpp
import slix_common
from slix_common import args, run

host, port, (jid_a, pw_a, jid_b, pw_b) = args(4)


class Client(slix_common.Client):
    def __init__(self, jid, password):
        super().__init__(jid, password, plugins=("xep_0030", "xep_0059", "xep_0199", "xep_0313"))
        self.bodies = []
        self.stanza_ids = []
        self.got = asyncio.Event()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)

    async def on_start(self, _):
        await self.get_roster()
        self.send_presence()
        self.set_ready()

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["body"] and msg.xml.find("{urn:xmpp:mam:2}result") is None:
            self.bodies.append(msg["body"])
            sid = msg.xml.find("{urn:xmpp:sid:0}stanza-id")
            if sid is not None:
                self.stanza_ids.append({"by": sid.get("by"), "id": sid.get("id")})
            self.got.set()


async def wait_for(client, count):
    while len(client.bodies) < count:
        client.got.clear()
        await asyncio.wait_for(client.got.wait(), 20)


def body_of(result):
    return result["mam_result"]["forwarded"]["stanza"]["body"]


async def main():
    a, b = Client(jid_a, pw_a), Client(jid_b, pw_b)
    for c in (a, b):
        slix_common.connect(c, host, port)
    await asyncio.wait_for(asyncio.gather(a.ready, b.ready), 20)
    bare_a, bare_b = a.boundjid.bare, b.boundjid.bare
    for i in range(1, 6):
        b.send_message(mto=bare_a, mbody="m%d" % i, mtype="chat")
        await wait_for(a, i)
    a.send_message(mto=bare_b, mbody="reply", mtype="chat")
    await wait_for(b, 1)

    result = {"stanza_ids": a.stanza_ids}
    forward = [body_of(m) async for m in a.plugin["xep_0313"].iterate(jid=slixmpp.JID(bare_a), with_jid=slixmpp.JID(bare_b), rsm={"max": 2})]
    result["forward"] = forward
    ids = [m["mam_result"]["id"] async for m in a.plugin["xep_0313"].iterate(jid=slixmpp.JID(bare_a), rsm={"max": 2})]
    result["ids"] = ids
    backward = [body_of(m) async for m in a.plugin["xep_0313"].iterate(jid=slixmpp.JID(bare_a), reverse=True, rsm={"max": 2})]
    result["backward"] = backward
    result["b_archive"] = [body_of(m) async for m in b.plugin["xep_0313"].iterate(jid=slixmpp.JID(bare_b), rsm={"max": 4})]
    print(json.dumps(result), flush=True)
    for c in (a, b):
        c.disconnect()
    await asyncio.sleep(0.2)


run(main)
