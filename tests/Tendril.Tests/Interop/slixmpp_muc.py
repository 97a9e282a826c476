#!/usr/bin/python3
"""Group chat (XEP-0045) with slixmpp's xep_0045 plugin: A creates a room and configures it with the room's own form
(name, persistent, non-anonymous), sends three messages; B enters asking for two messages of history, talks; A kicks
B, then bans B, whose next entrance fails; A lists the outcasts, invites C, and C enters.

Usage: slixmpp_muc.py HOST PORT ROOM JID_A JID_B JID_C PASSWORD
Prints one JSON line with what the clients observed; exit 0 when every step completed.
"""
import asyncio, json
import slixmpp
from slixmpp.exceptions import PresenceError
import slix_common
from slix_common import args, run

host, port, (room, jid_a, jid_b, jid_c, password) = args(5)


class Client(slix_common.Client):
    def __init__(self, jid):
        super().__init__(jid, password, plugins=("xep_0030", "xep_0004", "xep_0045", "xep_0199"))
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("groupchat_message", lambda m: self.record({"kind": "groupchat", "from": str(m["from"]), "body": m["body"],
                                                                          "stanza_id": (m.xml.find("{urn:xmpp:sid:0}stanza-id") is not None)}))
        self.add_event_handler("groupchat_presence", lambda p: self.record({"kind": "presence", "from": str(p["from"]), "type": p["type"],
                                                                            "codes": sorted(int(c) for c in p["muc"]["status_codes"])}))
        self.add_event_handler("groupchat_invite", lambda m: self.record({"kind": "invite", "room": str(m["from"]), "from": str(m["muc"]["invite"]["from"])}))

    async def on_start(self, _):
        await self.get_roster()
        self.send_presence()
        self.set_ready()


async def main():
    a, b, c = Client(jid_a), Client(jid_b), Client(jid_c)
    for x in (a, b, c):
        slix_common.connect(x, host, port)
    await asyncio.wait_for(asyncio.gather(a.ready, b.ready, c.ready), 20)
    muc_a, muc_b, muc_c = a["xep_0045"], b["xep_0045"], c["xep_0045"]
    out = {}

    self_pres, _subject, _occupants, _history = await muc_a.join_muc_wait(room, "Juliet", timeout=20)
    out["created_codes"] = sorted(int(x) for x in self_pres["muc"]["status_codes"])
    form = await muc_a.get_room_config(room)
    form.set_values({"muc#roomconfig_roomname": "Interop", "muc#roomconfig_persistentroom": True, "muc#roomconfig_whois": "anyone"})
    await muc_a.set_room_config(room, form)
    info = await a["xep_0030"].get_info(jid=room)
    out["features"] = sorted(f for f in info["disco_info"]["features"] if f.startswith("muc_"))
    out["name"] = [i[3] for i in info["disco_info"]["identities"]][0]

    for i in range(1, 4):
        a.send_message(mto=room, mbody="h%d" % i, mtype="groupchat")
        await a.wait(lambda e, i=i: e["kind"] == "groupchat" and e["body"] == "h%d" % i)
    _self_b, subject_b, occupants_b, history_b = await muc_b.join_muc_wait(room, "Romeo", maxstanzas=2, timeout=20)
    out["history"] = [m["body"] for m in history_b]
    out["occupants_seen_by_b"] = sorted(str(o["from"].resource) for o in occupants_b)

    b.send_message(mto=room, mbody="hello from romeo", mtype="groupchat")
    got = await a.wait(lambda e: e["kind"] == "groupchat" and e["body"] == "hello from romeo")
    out["a_got"] = {"from": got["from"], "stanza_id": got["stanza_id"]}

    await muc_a.set_role(room, "Romeo", "none", reason="enough")
    kicked = await b.wait(lambda e: e["kind"] == "presence" and e["type"] == "unavailable" and e["from"].endswith("/Romeo"))
    out["kick_codes"] = kicked["codes"]

    await muc_b.join_muc_wait(room, "Romeo", maxstanzas=0, timeout=20)
    await muc_a.set_affiliation(room, "outcast", jid=slixmpp.JID(jid_b), reason="really")
    banned = await b.wait(lambda e: e["kind"] == "presence" and e["type"] == "unavailable" and 301 in e["codes"])
    out["ban_codes"] = banned["codes"]
    try:
        await muc_b.join_muc_wait(room, "Romeo", timeout=20)
        out["rejoin"] = "joined"
    except PresenceError as e:
        out["rejoin"] = e.condition
    out["outcasts"] = [str(j) for j in await muc_a.get_affiliation_list(room, "outcast")]

    muc_a.invite(room, slixmpp.JID(jid_c), reason="come")
    invite = await c.wait(lambda e: e["kind"] == "invite")
    out["invite"] = {"room": invite["room"], "from": invite["from"]}
    await muc_c.join_muc_wait(room, "Nurse", maxstanzas=0, timeout=20)
    joined = await a.wait(lambda e: e["kind"] == "presence" and e["from"].endswith("/Nurse") and e["type"] != "unavailable")
    out["c_joined"] = joined["from"]

    for x in (a, b, c):
        x.disconnect()
    print(json.dumps(out), flush=True)


run(main)
