#!/usr/bin/python3
"""Pubsub interop with slixmpp's xep_0060 plugin against a real Tendril.

Usage: slixmpp_pubsub.py HOST PORT SERVICE PASSWORD
Accounts juliet, romeo, nurse, tybalt, benvolio @localhost all use PASSWORD.
1. juliet creates node 'news'; romeo, nurse, tybalt and benvolio subscribe; benvolio goes offline.
2. juliet publishes item 'x1': romeo, nurse and tybalt must receive it.
3. prints READY and waits for an item 'h1' (the test publishes it over HTTP): the three must receive it.
4. benvolio logs in again: it must receive the last item ('h1') when it becomes available.
Prints one JSON line with what each client received; exit 0 on success.
"""
import asyncio, json, ssl, sys, logging
import slixmpp
from slixmpp.xmlstream import ET

host, port, service, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
NODE = "news"
logging.basicConfig(level=logging.WARNING)


class Client(slixmpp.ClientXMPP):
    def __init__(self, user):
        super().__init__(f"{user}@localhost/slix", password)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0060")
        self.user = user
        self.items = []
        self.waiters = []
        self.ready = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("pubsub_publish", self.on_publish)

    async def on_start(self, _):
        self.send_presence()
        if not self.ready.done():
            self.ready.set_result(True)

    def on_publish(self, msg):
        item = msg["pubsub_event"]["items"]["item"]
        payload = item["payload"]
        self.items.append({
            "node": msg["pubsub_event"]["items"]["node"],
            "id": item["id"],
            "text": payload.text if payload is not None else None,
            "from": str(msg["from"]),
            "delayed": msg.xml.find("{urn:xmpp:delay}delay") is not None,
        })
        for want, fut in list(self.waiters):
            if item["id"] == want and not fut.done():
                fut.set_result(True)

    def wait_item(self, item_id):
        fut = asyncio.get_event_loop().create_future()
        if any(i["id"] == item_id for i in self.items):
            fut.set_result(True)
        else:
            self.waiters.append((item_id, fut))
        return fut


async def online(user):
    c = Client(user)
    c.connect((host, port), force_starttls=True)
    await asyncio.wait_for(c.ready, 20)
    return c


def entry(text):
    e = ET.Element("{urn:example:news}entry")
    e.text = text
    return e


async def main():
    juliet = await online("juliet")
    await juliet["xep_0060"].create_node(service, NODE)
    subs = [await online(u) for u in ("romeo", "nurse", "tybalt")]
    benvolio = await online("benvolio")
    for c in subs + [benvolio]:
        await c["xep_0060"].subscribe(service, NODE)
    benvolio.disconnect()
    await asyncio.sleep(0.3)

    await juliet["xep_0060"].publish(service, NODE, id="x1", payload=entry("from xmpp"))
    await asyncio.wait_for(asyncio.gather(*[c.wait_item("x1") for c in subs]), 20)
    print("READY", flush=True)
    await asyncio.wait_for(asyncio.gather(*[c.wait_item("h1") for c in subs]), 30)

    late = await online("benvolio")
    await asyncio.wait_for(late.wait_item("h1"), 20)

    result = {c.user: c.items for c in subs}
    result["benvolio"] = late.items
    print(json.dumps(result), flush=True)
    for c in subs + [juliet, late]:
        c.disconnect()
    await asyncio.sleep(0.2)


try:
    asyncio.get_event_loop().run_until_complete(main())
except Exception as e:  # report, don't hang
    print(json.dumps({"error": repr(e)}), flush=True)
    sys.exit(1)
