#!/usr/bin/python3
"""XEP-0114 with slixmpp's ComponentXMPP: an echo component connects to the component port with its secret; a user
(slixmpp ClientXMPP) discovers it on the server, asks it for disco#info and sends it a message; the component answers
"echo: <body>" from the JID the message was sent to.

Usage: slixmpp_component.py HOST PORT COMPONENT_PORT COMPONENT_DOMAIN SECRET JID PASSWORD
Prints one JSON line with what the user observed; exit 0 when every step completed.
"""
import asyncio, json
import slixmpp
import slix_common
from slix_common import args, run

host, port, (component_port, domain, secret, jid, password) = args(5)


class Echo(slixmpp.ComponentXMPP):
    def __init__(self):
        super().__init__(domain, secret, host, int(component_port))
        self.register_plugin("xep_0030")
        self["xep_0030"].add_identity(category="component", itype="generic", name="Echo")
        self.connected_future = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", lambda _: self.connected_future.done() or self.connected_future.set_result(True))
        self.add_event_handler("message", self.on_message)

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["body"]:
            self.send_message(mto=msg["from"], mfrom=msg["to"], mbody="echo: " + msg["body"], mtype=msg["type"])


class User(slix_common.Client):
    def __init__(self):
        super().__init__(jid, password, plugins=("xep_0030",))
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", lambda m: self.record({"kind": "message", "from": str(m["from"]), "body": m["body"]}))

    async def on_start(self, _):
        self.send_presence()
        self.set_ready()


async def main():
    echo = Echo()
    echo.connect()
    await asyncio.wait_for(echo.connected_future, 20)
    user = User()
    slix_common.connect(user, host, port)
    await asyncio.wait_for(user.ready, 20)

    items = await user["xep_0030"].get_items(jid=user.boundjid.domain)
    info = await user["xep_0030"].get_info(jid=domain)
    user.send_message(mto="bot@" + domain, mbody="hello", mtype="chat")
    echoed = await user.wait(lambda e: e["kind"] == "message")
    print(json.dumps({
        "items": sorted(str(i[0]) for i in items["disco_items"]["items"]),
        "identities": [list(i) for i in info["disco_info"]["identities"]],
        "echoed": echoed,
    }), flush=True)
    user.disconnect()
    echo.disconnect()
    await asyncio.sleep(0.2)


run(main)
