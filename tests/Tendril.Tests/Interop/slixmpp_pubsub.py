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
import asyncio, json
from slixmpp.xmlstream import ET
import slix_common
from slix_common import args, run

host, port, (service, password) = args(2)
NODE = "news"


class Client(slix_common.Client):
    def __init__(self, user):
        super().__init__(f"{user}@localhost/slix", password, plugins=("xep_0060",))
        self.user = user
        self.items = []
        self.item_waiters = []
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("pubsub_publish", self.on_publish)

    async def on_start(self, _):
        self.send_presence()
        self.set_ready()

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
        for want, fut in list(self.item_waiters):
            if item["id"] == want and not fut.done():
                fut.set_result(True)

    def wait_item(self, item_id):
        fut = asyncio.get_event_loop().create_future()
        if any(i["id"] == item_id for i in self.items):
            fut.set_result(True)
        else:
            self.item_waiters.append((item_id, fut))
        return fut


async def online(user):
    c = Client(user)
    slix_common.connect(c, host, port)
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


run(main)
