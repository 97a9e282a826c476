#!/usr/bin/python3
"""Message carbons (XEP-0280) and blocking (XEP-0191) with slixmpp: A logs in twice (A1, A2) with carbons enabled,
B once. A1 -> B and B -> A1 show up on A2 as sent/received carbons. Then A1 blocks B: A2 gets the block push and
sees B in the blocklist, B's message comes back as service-unavailable, A1's message to B is refused with
not-acceptable + blocked. A2 unblocks B and B's next message reaches A.

Usage: slixmpp_carbons_blocking.py HOST PORT JID_A PASS_A JID_B PASS_B
Prints one JSON line with what the clients observed; exit 0 when every step completed.
"""
import asyncio, json
import slix_common
from slix_common import args, run

host, port, (jid_a, pw_a, jid_b, pw_b) = args(4)


class Client(slix_common.Client):
    def __init__(self, jid, password):
        super().__init__(jid, password, plugins=("xep_0030", "xep_0199", "xep_0280", "xep_0191"))
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("carbon_sent", lambda m: self.record(
            {"kind": "carbon_sent", "from": str(m["from"]), "to": str(m["carbon_sent"]["to"]), "body": m["carbon_sent"]["body"]}))
        self.add_event_handler("carbon_received", lambda m: self.record(
            {"kind": "carbon_received", "from": str(m["from"]), "inner_from": str(m["carbon_received"]["from"]), "body": m["carbon_received"]["body"]}))
        self.add_event_handler("blocked", lambda iq: self.record(
            {"kind": "blocked_push", "items": sorted(str(j) for j in iq["block"]["items"])}))
        self.add_event_handler("unblocked", lambda iq: self.record(
            {"kind": "unblocked_push", "items": sorted(str(j) for j in iq["unblock"]["items"])}))
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("message_error", self.on_error)

    async def on_start(self, _):
        await self.get_roster()
        self.send_presence()
        await self.plugin["xep_0280"].enable()
        self.set_ready()

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["body"]:
            self.record({"kind": "message", "from": str(msg["from"]), "body": msg["body"]})

    def on_error(self, msg):
        error = msg["error"]
        app = [child.tag for child in error.xml if child.tag.startswith("{urn:xmpp:blocking:errors}")]
        self.record({"kind": "error", "id": msg["id"], "condition": error["condition"], "type": error["type"], "app": app})



def connect(client):
    slix_common.connect(client, host, port)


async def main():
    a1, a2, b = Client(jid_a + "/one", pw_a), Client(jid_a + "/two", pw_a), Client(jid_b, pw_b)
    for c in (a1, a2, b):
        connect(c)
    await asyncio.wait_for(asyncio.gather(a1.ready, a2.ready, b.ready), 20)
    bare_a, bare_b = a1.boundjid.bare, b.boundjid.bare
    result = {"a1": str(a1.boundjid), "a2": str(a2.boundjid), "b": str(b.boundjid)}

    # Carbons.
    a1.send_message(mto=bare_b, mbody="sent from one", mtype="chat")
    await b.wait(lambda e: e["kind"] == "message" and e["body"] == "sent from one")
    result["sent"] = await a2.wait(lambda e: e["kind"] == "carbon_sent")
    b.send_message(mto=str(a1.boundjid), mbody="to one only", mtype="chat")
    await a1.wait(lambda e: e["kind"] == "message" and e["body"] == "to one only")
    result["received"] = await a2.wait(lambda e: e["kind"] == "carbon_received")

    # Blocking (both A resources ask for the list, so both get pushes).
    await a2.plugin["xep_0191"].get_blocked()
    await a1.plugin["xep_0191"].get_blocked()
    await a1.plugin["xep_0191"].block([bare_b])
    result["push"] = await a2.wait(lambda e: e["kind"] == "blocked_push")
    blocklist = await a2.plugin["xep_0191"].get_blocked()
    result["blocklist"] = sorted(str(j) for j in blocklist["blocklist"]["items"])
    b.send_message(mto=bare_a, mbody="let me in", mtype="chat")
    result["b_error"] = await b.wait(lambda e: e["kind"] == "error")
    msg = a1.make_message(mto=bare_b, mbody="go away", mtype="chat")
    msg["id"] = "refused"
    msg.send()
    result["a_error"] = await a1.wait(lambda e: e["kind"] == "error" and e["id"] == "refused")
    await a2.plugin["xep_0191"].unblock([bare_b])
    result["unpush"] = await a1.wait(lambda e: e["kind"] == "unblocked_push")
    b.send_message(mto=str(a1.boundjid), mbody="friends again", mtype="chat")
    await a1.wait(lambda e: e["kind"] == "message" and e["body"] == "friends again")
    result["a1_messages"] = [e["body"] for e in a1.events if e["kind"] == "message"]
    print(json.dumps(result), flush=True)
    for c in (a1, a2, b):
        c.disconnect()
    await asyncio.sleep(0.2)


run(main)
