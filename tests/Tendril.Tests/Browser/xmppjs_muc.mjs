// @xmpp/client over WebSocket in a group chat (XEP-0045): enters ROOM as NICK, says JOINED once its own presence
// (status 110) arrives, answers the first groupchat message from someone else with "echo: BODY" in the room, and
// prints GOT BODY. Usage: node --experimental-websocket xmppjs_muc.mjs URL USER PASSWORD ROOM NICK
import { client, xml } from "@xmpp/client";

const [url, username, password, room, nick] = process.argv.slice(2);
const xmpp = client({ service: url, domain: "localhost", resource: "node", username, password });
const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 40000);
const self = `${room}/${nick}`;
let joined = false;
xmpp.on("error", (err) => { console.error("error", err); process.exit(1); });
xmpp.on("stanza", async (stanza) => {
  if (stanza.is("presence") && stanza.attrs.from === self) {
    if (stanza.attrs.type === "error") { console.error("refused", stanza.toString()); process.exit(1); }
    const x = stanza.getChild("x", "http://jabber.org/protocol/muc#user");
    if (!joined && x && x.getChildren("status").some((s) => s.attrs.code === "110")) {
      joined = true;
      console.log("JOINED " + x.getChild("item").attrs.role);
    }
    return;
  }
  if (!stanza.is("message") || stanza.attrs.type !== "groupchat" || stanza.attrs.from === self) return;
  const body = stanza.getChildText("body");
  if (!body || stanza.getChild("delay", "urn:xmpp:delay")) return; // history is not a new message
  await xmpp.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "echo: " + body)));
  console.log("GOT " + body);
  clearTimeout(timer);
  await new Promise((r) => setTimeout(r, 200));
  await xmpp.stop();
  process.exit(0);
});
xmpp.on("online", async () => {
  // As in xmppjs_websocket.mjs: presence once stream management is on.
  for (let i = 0; i < 500 && !xmpp.streamManagement.enabled; i++) await new Promise((r) => setTimeout(r, 10));
  await xmpp.send(xml("presence"));
  await xmpp.send(xml("presence", { to: self }, xml("x", { xmlns: "http://jabber.org/protocol/muc" }, xml("history", { maxstanzas: "0" }))));
});
await xmpp.start();
