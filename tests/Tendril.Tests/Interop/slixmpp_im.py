#!/usr/bin/python3
"""RFC 6121 with slixmpp: A adds B and subscribes, B approves and subscribes back, A approves; both see each other's
presence; B goes offline, A sends a message, B logs in again and receives it with a delay stamp (XEP-0203).

Usage: slixmpp_im.py HOST PORT JID_A PASS_A JID_B PASS_B
Prints one JSON line with what each client observed; exit 0 when every step completed.
"""
import asyncio, json
import slix_common
from slix_common import args, run, until

host, port, (jid_a, pw_a, jid_b, pw_b) = args(4)


class Client(slix_common.Client):
    def __init__(self, jid, password):
        super().__init__(jid, password, plugins=("xep_0203", "xep_0199"))
        self.auto_authorize = None  # answer subscription requests by hand
        self.auto_subscribe = False
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("presence_subscribe", lambda p: self.record({"kind": "subscribe", "from": str(p["from"])}))
        self.add_event_handler("presence_subscribed", lambda p: self.record({"kind": "subscribed", "from": str(p["from"])}))
        self.add_event_handler("presence_available", lambda p: self.record({"kind": "available", "from": str(p["from"]), "status": p["status"]}))
        self.add_event_handler("presence_unavailable", lambda p: self.record({"kind": "unavailable", "from": str(p["from"])}))
        self.add_event_handler("message", self.on_message)

    async def on_start(self, _):
        await self.get_roster()
        self.send_presence(pstatus="online as " + self.boundjid.user)
        self.set_ready()

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal"):
            delay = msg["delay"]
            self.record({"kind": "message", "from": str(msg["from"]), "body": msg["body"],
                         "stamp": delay["stamp"].isoformat() if delay["stamp"] else None,
                         "delay_from": str(delay["from"]) if delay["from"] else None})

    def subscription(self, jid):
        item = self.client_roster[jid]
        return {"subscription": item["subscription"], "pending_out": bool(item["pending_out"]), "name": item["name"], "groups": list(item["groups"])}


def connect(client):
    slix_common.connect(client, host, port)


async def main():
    a, b = Client(jid_a, pw_a), Client(jid_b, pw_b)
    connect(a)
    connect(b)
    await asyncio.wait_for(asyncio.gather(a.ready, b.ready), 20)
    bare_a, bare_b = a.boundjid.bare, b.boundjid.bare

    await a.update_roster(bare_b, name="B", groups=["Friends"])
    a.send_presence(pto=bare_b, ptype="subscribe")
    await b.wait(lambda e: e["kind"] == "subscribe" and e["from"] == bare_a)
    b.send_presence(pto=bare_a, ptype="subscribed")
    b.send_presence(pto=bare_a, ptype="subscribe")
    await a.wait(lambda e: e["kind"] == "subscribed" and e["from"] == bare_b)
    await a.wait(lambda e: e["kind"] == "subscribe" and e["from"] == bare_b)
    a.send_presence(pto=bare_b, ptype="subscribed")
    a_saw_b = await a.wait(lambda e: e["kind"] == "available" and e["from"] == str(b.boundjid))
    b_saw_a = await b.wait(lambda e: e["kind"] == "available" and e["from"] == str(a.boundjid))
    await until(lambda: a.client_roster[bare_b]["subscription"] == "both" and b.client_roster[bare_a]["subscription"] == "both")
    rosters = {"a": a.subscription(bare_b), "b": b.subscription(bare_a)}

    b_full = str(b.boundjid)
    b.disconnect()
    await a.wait(lambda e: e["kind"] == "unavailable" and e["from"] == b_full)
    a.send_message(mto=bare_b, mbody="while you were away", mtype="chat")
    await a.plugin["xep_0199"].ping(jid=a.boundjid.domain)  # the message was handled before the ping

    b2 = Client(jid_b, pw_b)
    connect(b2)
    offline = await b2.wait(lambda e: e["kind"] == "message")
    print(json.dumps({
        "a": {"jid": str(a.boundjid), "events": a.events, "saw_b": a_saw_b, "roster": rosters["a"]},
        "b": {"jid": b_full, "events": b.events, "saw_a": b_saw_a, "roster": rosters["b"]},
        "b2": {"jid": str(b2.boundjid), "offline": offline, "events": b2.events},
    }), flush=True)
    for c in (a, b2):
        c.disconnect()
    await asyncio.sleep(0.2)


run(main)
