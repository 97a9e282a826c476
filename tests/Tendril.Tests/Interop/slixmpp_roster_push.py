#!/usr/bin/python3
"""Roster pushes to a second resource (RFC 6121 §2.1.6) with slixmpp: A logs in twice (resources one and two), both
request the roster (interested resources). One adds B with a name and a group: two receives the push and has the
item. One renames it: two sees the new name. One removes it: two receives the remove push and drops the item.

Usage: slixmpp_roster_push.py HOST PORT JID_A PASS_A JID_B
Prints one JSON line with what resource two observed; exit 0 when every step completed.
"""
import asyncio, json
from slix_common import Client, args, connect, run, until

host, port, (jid_a, pw_a, jid_b) = args(3)


class Resource(Client):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("roster_update", self.on_roster)

    async def on_start(self, _):
        await self.get_roster()
        self.send_presence()
        self.set_ready()

    def on_roster(self, iq):
        if iq["type"] != "set":
            return  # the answer to our own roster get
        for jid, item in iq["roster"]["items"].items():
            self.record({"kind": "push", "from": str(iq["from"]), "jid": str(jid), "name": item["name"],
                         "subscription": item["subscription"], "groups": sorted(item["groups"])})

    def item(self, jid):
        if not self.client_roster.has_jid(jid):  # (indexing would create the item)
            return None
        i = self.client_roster[jid]
        return {"name": i["name"], "subscription": i["subscription"], "groups": sorted(i["groups"])}


async def main():
    one, two = Resource(jid_a + "/one", pw_a), Resource(jid_a + "/two", pw_a)
    for c in (one, two):
        connect(c, host, port)
    await asyncio.wait_for(asyncio.gather(one.ready, two.ready), 20)
    result = {"one": str(one.boundjid), "two": str(two.boundjid)}

    await one.update_roster(jid_b, name="Bob", groups=["Work"])
    result["added"] = await two.wait(lambda e: e["jid"] == jid_b and e["subscription"] == "none")
    await until(lambda: two.item(jid_b) is not None)
    result["after_add"] = two.item(jid_b)

    await one.update_roster(jid_b, name="Robert", groups=["Work", "Friends"])
    result["renamed"] = await two.wait(lambda e: e["jid"] == jid_b and e["name"] == "Robert")
    await until(lambda: (two.item(jid_b) or {}).get("name") == "Robert")
    result["after_rename"] = two.item(jid_b)

    await one.del_roster_item(jid_b)
    result["removed"] = await two.wait(lambda e: e["jid"] == jid_b and e["subscription"] == "remove")
    await until(lambda: two.item(jid_b) is None)
    result["after_remove"] = two.item(jid_b)
    result["pushes_to_one"] = [e for e in one.events if e["kind"] == "push"]
    print(json.dumps(result), flush=True)
    for c in (one, two):
        c.disconnect()
    await asyncio.sleep(0.2)


run(main)
