// @xmpp/client over its WebSocket transport (RFC 7395): logs in, says ONLINE, answers the first chat message with
// "pong: BODY" and prints GOT BODY. Usage: node --experimental-websocket xmppjs_websocket.mjs URL USER PASSWORD
import { client, xml } from "@xmpp/client";

const [url, username, password] = process.argv.slice(2);
const xmpp = client({ service: url, domain: "localhost", resource: "node", username, password });
const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 30000);
xmpp.on("error", (err) => { console.error("error", err); process.exit(1); });
xmpp.on("stanza", async (stanza) => {
  if (!stanza.is("message") || !stanza.getChildText("body")) return;
  const body = stanza.getChildText("body");
  await xmpp.send(xml("message", { to: stanza.attrs.from, type: "chat" }, xml("body", {}, "pong: " + body)));
  console.log("GOT " + body);
  clearTimeout(timer);
  await xmpp.stop();
  process.exit(0);
});
xmpp.on("online", async (address) => {
  // @xmpp/client 0.14 emits "online" right after binding, before stream management is enabled, and may count a
  // stanza the server wrote before <enabled/> (the presence echo) once its counter has started: its h then exceeds
  // what the server sent and the server ends the stream with handled-count-too-high (XEP-0198 §4). Send initial
  // presence once SM is on, so the echo follows <enabled/> for both sides.
  for (let i = 0; i < 500 && !xmpp.streamManagement.enabled; i++) await new Promise((r) => setTimeout(r, 10));
  await xmpp.send(xml("presence"));
  console.log("ONLINE " + address.toString());
});
await xmpp.start();
