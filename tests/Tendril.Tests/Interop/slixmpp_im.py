#!/usr/bin/python3
"""RFC 6121 with slixmpp: A adds B and subscribes, B approves and subscribes back, A approves; both see each other's
presence; B goes offline, A sends a message, B logs in again and receives it with a delay stamp (XEP-0203).

Usage: slixmpp_im.py HOST PORT JID_A PASS_A JID_B PASS_B
Prints one JSON line with what each client observed; exit 0 when every step completed.
"""
import asyncio, json, ssl, sys, logging
import slixmpp

host, port = sys.argv[1], int(sys.argv[2])
jid_a, pw_a, jid_b, pw_b = sys.argv[3:7]
logging.basicConfig(level=logging.WARNING)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0203")
        self.register_plugin("xep_0199")
        self.auto_authorize = None  # answer subscription requests by hand
        self.auto_subscribe = False
        self.events, self.waiters = [], []
        self.ready = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("presence_subscribe", lambda p: self.record({"kind": "subscribe", "from": str(p["from"])}))
        self.add_event_handler("presence_subscribed", lambda p: self.record({"kind": "subscribed", "from": str(p["from"])}))
        self.add_event_handler("presence_available", lambda p: self.record({"kind": "available", "from": str(p["from"]), "status": p["status"]}))
        self.add_event_handler("presence_unavailable", lambda p: self.record({"kind": "unavailable", "from": str(p["from"])}))
        self.add_event_handler("message", self.on_message)

    async def on_start(self, _):
        await self.get_roster()
        self.send_presence(pstatus="online as " + self.boundjid.user)
        if not self.ready.done():
            self.ready.set_result(True)

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal"):
            delay = msg["delay"]
            self.record({"kind": "message", "from": str(msg["from"]), "body": msg["body"],
                         "stamp": delay["stamp"].isoformat() if delay["stamp"] else None,
                         "delay_from": str(delay["from"]) if delay["from"] else None})

    def record(self, event):
        self.events.append(event)
        for pred, fut in list(self.waiters):
            if not fut.done() and pred(event):
                fut.set_result(event)

    async def wait(self, pred, timeout=20):
        for e in self.events:
            if pred(e):
                return e
        fut = asyncio.get_event_loop().create_future()
        self.waiters.append((pred, fut))
        return await asyncio.wait_for(fut, timeout)

    def subscription(self, jid):
        item = self.client_roster[jid]
        return {"subscription": item["subscription"], "pending_out": bool(item["pending_out"]), "name": item["name"], "groups": list(item["groups"])}


def connect(client):
    client.connect((host, port), force_starttls=True)


async def until(check, timeout=10):
    for _ in range(int(timeout / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


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


try:
    asyncio.get_event_loop().run_until_complete(main())
except Exception as e:  # report, don't hang
    print(json.dumps({"error": repr(e)}), flush=True)
    sys.exit(1)
